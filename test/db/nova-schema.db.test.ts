import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import {
  findNovaSchema,
  readSchemaVersion,
  syncSchema,
  type SchemaKind,
} from '../../src/db/migrations/migrator.js';
import { runManage } from '../support/cli.js';
import { forEachEngine, freshDatabase, type FreshDatabase } from '../support/engines.js';

/**
 * Databases Nova manages (nova-manage's alembic_version, or
 * sqlalchemy-migrate's migrate_version before Xena) are read as the
 * cellgroups schema that has the same tables, and never changed. The
 * Nova-shaped schemas here are cellgroups's own tables (which carry Nova's
 * names and columns) without cellgroups's version tables and quota fences,
 * with Nova 26.2.2's (Zed) head revisions in Nova's marker.
 */
const NOVA_HEAD: Record<SchemaKind, string> = { api: 'b30f573d3377', cell: 'ccb0fa1a2252' };

type AnyDb = Kysely<Record<string, Record<string, unknown>>>;

async function novaShaped(
  database: Database<unknown>,
  kind: SchemaKind,
  marker: 'alembic_version' | 'migrate_version' = 'alembic_version',
): Promise<void> {
  await syncSchema(database, kind, 1);
  const db = database.db as unknown as AnyDb;
  for (const table of [
    `cellgroups_${kind}_migration`,
    `cellgroups_${kind}_migration_lock`,
    'quota_fences',
  ])
    await db.schema.dropTable(table).ifExists().execute();
  if (marker === 'alembic_version') {
    await db.schema
      .createTable('alembic_version')
      .addColumn('version_num', 'varchar(32)', (c) => c.primaryKey())
      .execute();
    await db.insertInto('alembic_version').values({ version_num: NOVA_HEAD[kind] }).execute();
  } else {
    await db.schema
      .createTable('migrate_version')
      .addColumn('repository_id', 'varchar(250)', (c) => c.primaryKey())
      .addColumn('repository_path', 'text')
      .addColumn('version', 'integer')
      .execute();
    await db
      .insertInto('migrate_version')
      .values({ repository_id: 'nova', repository_path: '/x', version: 402 })
      .execute();
  }
}

async function tables(database: Database<unknown>): Promise<string[]> {
  return (await database.db.introspection.getTables()).map((t) => t.name).sort();
}

forEachEngine((engine) => {
  describe('a database Nova manages', () => {
    let fresh: FreshDatabase[];
    let open: Database<unknown>[];
    beforeEach(() => {
      fresh = [];
      open = [];
    });
    afterEach(async () => {
      for (const d of open) await d.close();
      for (const f of fresh) await f.drop();
    });
    const database = async (label: string) => {
      const f = await freshDatabase(engine, label);
      fresh.push(f);
      const d = openDatabase<unknown>(f.url);
      open.push(d);
      return { url: f.url, database: d };
    };

    it('an API database is read as version 1, and sync changes nothing', async () => {
      const { database: api } = await database('napi');
      await novaShaped(api, 'api');
      const before = await tables(api);
      expect(await readSchemaVersion(api, 'api')).toBe(1);
      const nova = await findNovaSchema(api, 'api');
      expect(nova).toMatchObject({
        marker: 'alembic_version',
        revision: 'b30f573d3377',
        version: 1,
      });
      expect(nova?.description).toMatch(
        /^Nova manages this API database \(alembic_version b30f573d3377\)/,
      );
      const result = await syncSchema(api, 'api');
      expect(result).toMatchObject({ from: 1, to: 1, applied: [] });
      expect(await tables(api)).toEqual(before);
      expect(before).not.toContain('quota_fences');
      await expect(readSchemaVersion(api, 'cell')).rejects.toThrow(
        /is Nova's API database, not a cell database/,
      );
    });

    it('a cell database with the legacy group tables is at the legacy schema; without them, unreadable', async () => {
      const { database: cell } = await database('ncell');
      await novaShaped(cell, 'cell');
      const before = await tables(cell);
      expect(await readSchemaVersion(cell, 'cell')).toBe(1);
      expect((await findNovaSchema(cell, 'cell'))?.description).toMatch(
        /version 1, the legacy schema \(its instance group tables are still there\)/,
      );
      expect(await syncSchema(cell, 'cell')).toMatchObject({ from: 1, to: 1, applied: [] });
      expect(await tables(cell)).toEqual(before);
      await expect(readSchemaVersion(cell, 'api')).rejects.toThrow(/is Nova's cell database/);
      const db = cell.db as unknown as AnyDb;
      for (const t of ['instance_group_member', 'instance_group_policy', 'instance_groups'])
        await db.schema.dropTable(t).execute();
      expect(await readSchemaVersion(cell, 'cell')).toBe(0);
      expect((await findNovaSchema(cell, 'cell'))?.description).toMatch(
        /lacks instance_groups, instance_group_policy, instance_group_member: run "nova-manage db sync" first/,
      );
    });

    it("sqlalchemy-migrate's marker (releases before Xena) is recognised too", async () => {
      const { database: cell } = await database('nold');
      await novaShaped(cell, 'cell', 'migrate_version');
      expect(await findNovaSchema(cell, 'cell')).toMatchObject({
        marker: 'migrate_version',
        revision: '402',
        version: 1,
      });
    });

    it('a marker without the tables is version 0, naming what is missing', async () => {
      const { database: api } = await database('nbare');
      await sql`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)`.execute(
        api.db,
      );
      expect(await readSchemaVersion(api, 'api')).toBe(0);
      expect((await findNovaSchema(api, 'api'))?.description).toMatch(
        /lacks cell_mappings, .*: run "nova-manage api_db sync" first/,
      );
    });

    it('the commands say what they found and leave Nova its tables', async () => {
      const { url: apiUrl, database: api } = await database('nclia');
      const { url: cellUrl, database: cell } = await database('nclic');
      await novaShaped(api, 'api');
      await novaShaped(cell, 'cell');
      const [apiBefore, cellBefore] = [await tables(api), await tables(cell)];
      const env = { OS_API_DATABASE__CONNECTION: apiUrl, OS_DATABASE__CONNECTION: cellUrl };
      const version = await runManage(['api_db', 'version'], { env });
      expect(version.code).toBe(0);
      expect(version.stdout).toMatch(
        /^1\nNova manages this API database \(alembic_version b30f573d3377\): read as cellgroups API schema version 1; cellgroups changes no table of it\.\n$/,
      );
      const json = await runManage(['api_db', 'version', '--format', 'json'], { env });
      expect(JSON.parse(json.stdout)).toEqual({
        version: 1,
        latest: 2,
        nova: { marker: 'alembic_version', revision: 'b30f573d3377' },
      });
      const sync = await runManage(['api_db', 'sync'], { env });
      expect(sync.code).toBe(0);
      expect(sync.stdout).toMatch(
        /Nova manages this API database .* Nothing synced: use nova-manage for it\.\n$/,
      );
      const dbVersion = await runManage(['db', 'version'], { env });
      expect(dbVersion.stdout).toMatch(
        /^1\nNova manages this cell database \(alembic_version ccb0fa1a2252\)/,
      );
      const dbSync = await runManage(['db', 'sync', '--local_cell'], { env });
      expect(dbSync.code).toBe(0);
      expect(dbSync.stdout).toMatch(/Nova manages this cell database .* Nothing synced/);
      expect(await tables(api)).toEqual(apiBefore);
      expect(await tables(cell)).toEqual(cellBefore);
    });
  });
});
