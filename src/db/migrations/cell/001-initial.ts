import type { SchemaMigration } from '../migration.js';
import { novaTable } from '../migration.js';

/**
 * A cell database as Nova had it while groups lived in the cells: the
 * instances of the cell, and the legacy group tables with soft delete.
 */
export const initial: SchemaMigration = {
  version: 1,
  name: 'initial',
  async up(db, engine) {
    const table = (name: string) => novaTable(db, engine, name, { softDelete: true });

    await table('instances')
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(255)')
      .addColumn('project_id', 'varchar(255)')
      .addColumn('host', 'varchar(255)')
      .addColumn('node', 'varchar(255)')
      .addColumn('display_name', 'varchar(255)')
      .addColumn('vm_state', 'varchar(255)')
      .addUniqueConstraint('uniq_instances0uuid', ['uuid'])
      .execute();
    await db.schema
      .createIndex('instances_project_id_idx')
      .on('instances')
      .column('project_id')
      .execute();
    await db.schema
      .createIndex('instances_project_id_deleted_idx')
      .on('instances')
      .columns(['project_id', 'deleted'])
      .execute();
    await db.schema
      .createIndex('instances_uuid_deleted_idx')
      .on('instances')
      .columns(['uuid', 'deleted'])
      .execute();
    await db.schema
      .createIndex('instances_host_node_deleted_idx')
      .on('instances')
      .columns(['host', 'node', 'deleted'])
      .execute();
    await db.schema
      .createIndex('instances_deleted_created_at_idx')
      .on('instances')
      .columns(['deleted', 'created_at'])
      .execute();

    await table('instance_groups')
      .addColumn('user_id', 'varchar(255)')
      .addColumn('project_id', 'varchar(255)')
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addUniqueConstraint('uniq_instance_groups0uuid0deleted', ['uuid', 'deleted'])
      .execute();

    await table('instance_group_policy')
      .addColumn('policy', 'varchar(255)')
      .addColumn('group_id', 'integer', (c) => c.notNull().references('instance_groups.id'))
      .execute();
    await db.schema
      .createIndex('instance_group_policy_policy_idx')
      .on('instance_group_policy')
      .column('policy')
      .execute();
    // NOTE: not in Nova (MySQL indexes foreign keys by itself); PostgreSQL and
    // SQLite need them to read a batch of groups' policies and members.
    await db.schema
      .createIndex('instance_group_policy_group_id_idx')
      .on('instance_group_policy')
      .column('group_id')
      .execute();

    await table('instance_group_member')
      .addColumn('instance_id', 'varchar(255)')
      .addColumn('group_id', 'integer', (c) => c.notNull().references('instance_groups.id'))
      .execute();
    await db.schema
      .createIndex('instance_group_member_instance_idx')
      .on('instance_group_member')
      .column('instance_id')
      .execute();
    await db.schema
      .createIndex('instance_group_member_group_id_idx')
      .on('instance_group_member')
      .column('group_id')
      .execute();
  },
};
