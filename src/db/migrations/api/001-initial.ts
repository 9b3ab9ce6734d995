import type { SchemaMigration } from '../migration.js';
import { novaTable } from '../migration.js';

/** The API database as Nova's models define it, with the group tables that move here. */
export const initial: SchemaMigration = {
  version: 1,
  name: 'initial',
  async up(db, engine) {
    const table = (name: string) => novaTable(db, engine, name, { softDelete: false });

    await table('cell_mappings')
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('transport_url', 'text')
      .addColumn('database_connection', 'text')
      .addColumn('disabled', 'boolean', (c) => c.defaultTo(false))
      .addUniqueConstraint('uniq_cell_mappings0uuid', ['uuid'])
      .execute();
    await db.schema.createIndex('uuid_idx').on('cell_mappings').column('uuid').execute();

    await table('instance_mappings')
      .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('cell_id', 'integer', (c) => c.references('cell_mappings.id'))
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(255)')
      .addColumn('queued_for_delete', 'boolean', (c) => c.defaultTo(false))
      .addUniqueConstraint('uniq_instance_mappings0instance_uuid', ['instance_uuid'])
      .execute();
    await db.schema
      .createIndex('project_id_idx')
      .on('instance_mappings')
      .column('project_id')
      .execute();
    await db.schema
      .createIndex('instance_uuid_idx')
      .on('instance_mappings')
      .column('instance_uuid')
      .execute();
    await db.schema
      .createIndex('instance_mappings_user_id_project_id_idx')
      .on('instance_mappings')
      .columns(['user_id', 'project_id'])
      .execute();

    await table('instance_groups')
      .addColumn('user_id', 'varchar(255)')
      .addColumn('project_id', 'varchar(255)')
      .addColumn('uuid', 'varchar(36)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addUniqueConstraint('uniq_instance_groups0uuid', ['uuid'])
      .execute();
    // Lists page through a project's groups in creation order.
    await db.schema
      .createIndex('instance_groups_project_id_created_at_idx')
      .on('instance_groups')
      .columns(['project_id', 'created_at', 'id'])
      .execute();

    await table('instance_group_policy')
      .addColumn('policy', 'varchar(255)')
      .addColumn('rules', 'text')
      .addColumn('group_id', 'integer', (c) => c.notNull().references('instance_groups.id'))
      .execute();
    await db.schema
      .createIndex('instance_group_policy_policy_idx')
      .on('instance_group_policy')
      .column('policy')
      .execute();
    await db.schema
      .createIndex('instance_group_policy_group_id_idx')
      .on('instance_group_policy')
      .column('group_id')
      .execute();

    // NOTE: Nova has no unique key on (group_id, instance_uuid) and relied on
    // its code to avoid duplicates; the constraint makes "a member appears at
    // most once per group" hold under concurrent adds too.
    await table('instance_group_member')
      .addColumn('instance_uuid', 'varchar(255)')
      .addColumn('group_id', 'integer', (c) => c.notNull().references('instance_groups.id'))
      .addUniqueConstraint('uniq_instance_group_member0group_id0instance_uuid', [
        'group_id',
        'instance_uuid',
      ])
      .execute();
    await db.schema
      .createIndex('instance_group_member_instance_idx')
      .on('instance_group_member')
      .column('instance_uuid')
      .execute();

    await table('quotas')
      .addColumn('project_id', 'varchar(255)')
      .addColumn('resource', 'varchar(255)', (c) => c.notNull())
      .addColumn('hard_limit', 'integer')
      .addUniqueConstraint('uniq_quotas0project_id0resource', ['project_id', 'resource'])
      .execute();
    await db.schema
      .createIndex('quotas_project_id_idx')
      .on('quotas')
      .column('project_id')
      .execute();

    await table('project_user_quotas')
      .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
      .addColumn('resource', 'varchar(255)', (c) => c.notNull())
      .addColumn('hard_limit', 'integer')
      .addUniqueConstraint('uniq_project_user_quotas0user_id0project_id0resource', [
        'user_id',
        'project_id',
        'resource',
      ])
      .execute();
    await db.schema
      .createIndex('project_user_quotas_project_id_idx')
      .on('project_user_quotas')
      .column('project_id')
      .execute();
    await db.schema
      .createIndex('project_user_quotas_user_id_idx')
      .on('project_user_quotas')
      .column('user_id')
      .execute();

    await table('quota_classes')
      .addColumn('class_name', 'varchar(255)')
      .addColumn('resource', 'varchar(255)')
      .addColumn('hard_limit', 'integer')
      .execute();
    await db.schema
      .createIndex('quota_classes_class_name_idx')
      .on('quota_classes')
      .column('class_name')
      .execute();
  },
};
