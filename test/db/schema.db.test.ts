import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { latestVersion, readSchemaVersion, syncSchema } from '../../src/db/migrations/migrator.js';
import { SchemaError } from '../../src/errors.js';
import { forEachEngine, freshDatabase, type FreshDatabase } from '../support/engines.js';
import { inspectTable, type TableShape } from '../support/schema-inspect.js';

type Expected = Record<
  string,
  { columns: Record<string, string>; indexes: Record<string, string>; foreignKeys: string[] }
>;

/** Columns as `family` or `family?` (nullable); Nova's names and types. */
const TIMESTAMPS = { created_at: 'datetime?', updated_at: 'datetime?' };
const SOFT_DELETE = { deleted_at: 'datetime?', deleted: 'integer' };

const API: Expected = {
  cell_mappings: {
    columns: {
      id: 'integer',
      uuid: 'varchar',
      name: 'varchar?',
      transport_url: 'text?',
      database_connection: 'text?',
      disabled: 'boolean?',
      ...TIMESTAMPS,
    },
    indexes: { uniq_cell_mappings0uuid: 'unique(uuid)', uuid_idx: 'index(uuid)' },
    foreignKeys: [],
  },
  instance_mappings: {
    columns: {
      id: 'integer',
      instance_uuid: 'varchar',
      cell_id: 'integer?',
      project_id: 'varchar',
      user_id: 'varchar?',
      queued_for_delete: 'boolean?',
      ...TIMESTAMPS,
    },
    indexes: {
      uniq_instance_mappings0instance_uuid: 'unique(instance_uuid)',
      instance_uuid_idx: 'index(instance_uuid)',
      project_id_idx: 'index(project_id)',
      instance_mappings_user_id_project_id_idx: 'index(user_id,project_id)',
    },
    foreignKeys: ['cell_id -> cell_mappings.id'],
  },
  instance_groups: {
    columns: {
      id: 'integer',
      uuid: 'varchar',
      name: 'varchar?',
      user_id: 'varchar?',
      project_id: 'varchar?',
      ...TIMESTAMPS,
    },
    indexes: {
      uniq_instance_groups0uuid: 'unique(uuid)',
      instance_groups_project_id_created_at_idx: 'index(project_id,created_at,id)',
    },
    foreignKeys: [],
  },
  instance_group_policy: {
    columns: {
      id: 'integer',
      policy: 'varchar?',
      rules: 'text?',
      group_id: 'integer',
      ...TIMESTAMPS,
    },
    indexes: {
      instance_group_policy_policy_idx: 'index(policy)',
      instance_group_policy_group_id_idx: 'index(group_id)',
    },
    foreignKeys: ['group_id -> instance_groups.id'],
  },
  instance_group_member: {
    columns: { id: 'integer', instance_uuid: 'varchar?', group_id: 'integer', ...TIMESTAMPS },
    indexes: {
      uniq_instance_group_member0group_id0instance_uuid: 'unique(group_id,instance_uuid)',
      instance_group_member_instance_idx: 'index(instance_uuid)',
    },
    foreignKeys: ['group_id -> instance_groups.id'],
  },
  quotas: {
    columns: {
      id: 'integer',
      project_id: 'varchar?',
      resource: 'varchar',
      hard_limit: 'integer?',
      ...TIMESTAMPS,
    },
    indexes: {
      uniq_quotas0project_id0resource: 'unique(project_id,resource)',
      quotas_project_id_idx: 'index(project_id)',
    },
    foreignKeys: [],
  },
  project_user_quotas: {
    columns: {
      id: 'integer',
      user_id: 'varchar',
      project_id: 'varchar',
      resource: 'varchar',
      hard_limit: 'integer?',
      ...TIMESTAMPS,
    },
    indexes: {
      uniq_project_user_quotas0user_id0project_id0resource: 'unique(user_id,project_id,resource)',
      project_user_quotas_project_id_idx: 'index(project_id)',
      project_user_quotas_user_id_idx: 'index(user_id)',
    },
    foreignKeys: [],
  },
  quota_classes: {
    columns: {
      id: 'integer',
      class_name: 'varchar?',
      resource: 'varchar?',
      hard_limit: 'integer?',
      ...TIMESTAMPS,
    },
    indexes: { quota_classes_class_name_idx: 'index(class_name)' },
    foreignKeys: [],
  },
  quota_fences: {
    columns: {
      id: 'integer',
      project_id: 'varchar',
      resource: 'varchar',
      generation: 'integer',
      ...TIMESTAMPS,
    },
    indexes: { uniq_quota_fences0project_id0resource: 'unique(project_id,resource)' },
    foreignKeys: [],
  },
};

const CELL: Expected = {
  instances: {
    columns: {
      id: 'integer',
      uuid: 'varchar',
      user_id: 'varchar?',
      project_id: 'varchar?',
      host: 'varchar?',
      node: 'varchar?',
      display_name: 'varchar?',
      vm_state: 'varchar?',
      // From cell schema 3 (cell/003-instance-usage.ts).
      vcpus: 'integer?',
      memory_mb: 'integer?',
      hidden: 'boolean?',
      ...TIMESTAMPS,
      ...SOFT_DELETE,
    },
    indexes: {
      uniq_instances0uuid: 'unique(uuid)',
      instances_project_id_idx: 'index(project_id)',
      instances_project_id_deleted_idx: 'index(project_id,deleted)',
      instances_uuid_deleted_idx: 'index(uuid,deleted)',
      instances_host_node_deleted_idx: 'index(host,node,deleted)',
      instances_deleted_created_at_idx: 'index(deleted,created_at)',
    },
    foreignKeys: [],
  },
  instance_groups: {
    columns: {
      id: 'integer',
      uuid: 'varchar',
      name: 'varchar?',
      user_id: 'varchar?',
      project_id: 'varchar?',
      ...TIMESTAMPS,
      ...SOFT_DELETE,
    },
    indexes: { uniq_instance_groups0uuid0deleted: 'unique(uuid,deleted)' },
    foreignKeys: [],
  },
  instance_group_policy: {
    columns: {
      id: 'integer',
      policy: 'varchar?',
      group_id: 'integer',
      ...TIMESTAMPS,
      ...SOFT_DELETE,
    },
    indexes: {
      instance_group_policy_policy_idx: 'index(policy)',
      instance_group_policy_group_id_idx: 'index(group_id)',
    },
    foreignKeys: ['group_id -> instance_groups.id'],
  },
  instance_group_member: {
    columns: {
      id: 'integer',
      instance_id: 'varchar?',
      group_id: 'integer',
      ...TIMESTAMPS,
      ...SOFT_DELETE,
    },
    indexes: {
      instance_group_member_instance_idx: 'index(instance_id)',
      instance_group_member_group_id_idx: 'index(group_id)',
    },
    foreignKeys: ['group_id -> instance_groups.id'],
  },
};

function expectShape(engine: string, actual: TableShape, expected: Expected[string]): void {
  const columns = Object.fromEntries(
    Object.entries(actual.columns).map(([name, c]) => [
      name,
      // SQLite reports an INTEGER PRIMARY KEY as nullable; it never is.
      `${c.type}${c.nullable && name !== 'id' ? '?' : ''}`,
    ]),
  );
  expect(columns).toEqual(expected.columns);
  for (const [name, shape] of Object.entries(expected.indexes)) {
    expect(actual.indexes[name], `index ${name}`).toBe(shape);
  }
  const fkColumns = expected.foreignKeys.map((fk) => fk.split(' ')[0]);
  for (const [name, shape] of Object.entries(actual.indexes)) {
    if (name in expected.indexes) continue;
    // MariaDB backs each foreign key with an index of its own; nothing else may be extra.
    expect(
      engine === 'mysql' && fkColumns.some((c) => shape === `index(${c})`),
      `unexpected index ${name} ${shape}`,
    ).toBe(true);
  }
  expect(actual.foreignKeys).toEqual([...expected.foreignKeys].sort());
}

forEachEngine((engine) => {
  describe('schemas', () => {
    let fresh: FreshDatabase;
    let database: Database<unknown>;
    beforeEach(async () => {
      fresh = await freshDatabase(engine);
      database = openDatabase(fresh.url);
    });
    afterEach(async () => {
      await database.close();
      await fresh.drop();
    });

    it('reads version 0 from an empty database', async () => {
      expect(await readSchemaVersion(database, 'api')).toBe(0);
      expect(await readSchemaVersion(database, 'cell')).toBe(0);
    });

    it.each([
      ['api', API],
      ['cell', CELL],
    ] as const)(
      'syncs the %s schema from empty with Nova names, keys and indexes',
      async (kind, expected) => {
        const result = await syncSchema(database, kind);
        expect(result).toMatchObject({ from: 0, to: latestVersion(kind) });
        expect(result.applied.map((a) => a.version)).toEqual(
          Array.from({ length: latestVersion(kind) }, (_, i) => i + 1),
        );
        expect(await readSchemaVersion(database, kind)).toBe(latestVersion(kind));
        const tables = (await database.db.introspection.getTables()).map((t) => t.name);
        expect(tables.filter((t) => !t.startsWith('cellgroups_')).sort()).toEqual(
          Object.keys(expected).sort(),
        );
        for (const [table, shape] of Object.entries(expected)) {
          expectShape(engine.name, await inspectTable(database, table), shape);
        }
      },
    );

    it('second sync does no harm', async () => {
      await syncSchema(database, 'api');
      const again = await syncSchema(database, 'api');
      expect(again).toEqual({ from: 2, to: 2, applied: [] });
    });

    it('refuses a downgrade and an unknown version', async () => {
      await syncSchema(database, 'cell');
      await expect(syncSchema(database, 'cell', 0)).rejects.toThrow(
        /downgrade is not supported: the cell database is at version 3, 0 was asked for/,
      );
      await expect(syncSchema(database, 'cell', 42)).rejects.toThrow(
        /Unknown cell schema version 42/,
      );
    });

    it('refuses to put the cell schema into an API database', async () => {
      await syncSchema(database, 'api');
      await expect(syncSchema(database, 'cell')).rejects.toThrow(SchemaError);
      await expect(syncSchema(database, 'cell')).rejects.toThrow(
        /is an API database, not a cell database/,
      );
    });

    it('refuses a database newer than this program', async () => {
      await syncSchema(database, 'api');
      const db = database.db as unknown as import('kysely').Kysely<
        Record<string, { name: string; timestamp: string }>
      >;
      await db
        .insertInto('cellgroups_api_migration')
        .values({ name: '999_future', timestamp: new Date().toISOString() })
        .execute();
      await expect(readSchemaVersion(database, 'api')).rejects.toThrow(
        /at schema version 999, newer than this cellgroups knows/,
      );
    });
  });
});
