import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { runManage } from '../support/cli.js';
import { createDeployment, type TestDeployment } from '../support/deployment.js';
import { forEachEngine } from '../support/engines.js';

/** Tables of a database, sorted. */
async function tables(url: string): Promise<string[]> {
  const db = openDatabase<Record<string, never>>(url);
  try {
    return (await db.db.introspection.getTables()).map((t) => t.name).sort();
  } finally {
    await db.close();
  }
}

async function withDb(url: string, work: (db: Database<Record<string, never>>) => Promise<void>) {
  const db = openDatabase<Record<string, never>>(url);
  try {
    await work(db);
  } finally {
    await db.close();
  }
}

/**
 * Turns a database cellgroups made into one as `nova-manage` leaves it: no
 * cellgroups version tables, Nova's revision marker instead (alembic's, or
 * sqlalchemy-migrate's for releases before the switch).
 */
async function asNovaManaged(
  url: string,
  marker: 'alembic' | 'sqlalchemy-migrate',
  drop: readonly string[],
): Promise<void> {
  await withDb(url, async (database) => {
    const { db } = database;
    for (const table of drop) await db.schema.dropTable(table).ifExists().execute();
    if (marker === 'alembic') {
      await db.schema
        .createTable('alembic_version')
        .addColumn('version_num', 'varchar(32)', (c) => c.notNull().primaryKey())
        .execute();
      await sql`insert into alembic_version (version_num) values ('b30f573d3377')`.execute(db);
    } else {
      await db.schema
        .createTable('migrate_version')
        .addColumn('repository_id', 'varchar(250)', (c) => c.notNull().primaryKey())
        .addColumn('repository_path', 'text')
        .addColumn('version', 'integer')
        .execute();
      await sql`insert into migrate_version (repository_id, repository_path, version) values ('nova', '/x', 402)`.execute(
        db,
      );
    }
  });
}

const VERSION_TABLES = (kind: 'api' | 'cell') => [
  `cellgroups_${kind}_migration`,
  `cellgroups_${kind}_migration_lock`,
];

forEachEngine((engine) => {
  describe('databases that Nova manages', () => {
    let d: TestDeployment;
    beforeEach(async () => {
      d = await createDeployment(engine);
      expect((await runManage([...d.args, 'api_db', 'sync'])).code).toBe(0);
      expect((await runManage([...d.args, 'db', 'sync', '1', '--local_cell'])).code).toBe(0);
    });
    afterEach(async () => {
      await d.destroy();
    });
    const manage = (...args: string[]) => runManage([...d.args, ...args]);

    it("reads Nova's API database at 1, and api_db sync adds only cellgroups' own table", async () => {
      await asNovaManaged(d.api.url, 'alembic', [...VERSION_TABLES('api'), 'quota_fences']);
      expect(await manage('api_db', 'version')).toMatchObject({ code: 0, stdout: '1\n' });
      expect(JSON.parse((await manage('api_db', 'version', '--format', 'json')).stdout)).toEqual({
        version: 1,
        latest: 2,
        managed_by: 'nova',
        nova_revision: 'b30f573d3377',
      });
      const before = await tables(d.api.url);
      const sync = await manage('api_db', 'sync');
      expect(sync).toMatchObject({ code: 0, stderr: '' });
      expect(sync.stdout).toMatch(
        /^API database .*: managed by Nova \(alembic revision b30f573d3377\); its schema is left to nova-manage\. Added cellgroups' own table\(s\) for version 2 \(quota-fences\); now at cellgroups version 2\.\n$/,
      );
      expect(await tables(d.api.url)).toEqual([...before, 'quota_fences'].sort());
      const again = await manage('api_db', 'sync');
      expect(again.stdout).toMatch(/Nothing to change: at cellgroups version 2\.\n$/);
      // The cell registry works on it as on any API database.
      expect((await manage('cell_v2', 'list_cells')).code).toBe(0);
    });

    for (const marker of ['alembic', 'sqlalchemy-migrate'] as const) {
      it(`reads a ${marker} cell database with the legacy tables at 1 and never changes it`, async () => {
        await asNovaManaged(d.cell.url, marker, VERSION_TABLES('cell'));
        expect(await manage('db', 'version')).toMatchObject({ code: 0, stdout: '1\n' });
        const before = await tables(d.cell.url);
        const sync = await manage('db', 'sync', '--local_cell');
        expect(sync).toMatchObject({ code: 0, stderr: '' });
        expect(sync.stdout).toMatch(
          /managed by Nova .*Nothing to change: at cellgroups version 1\./,
        );
        expect(await tables(d.cell.url)).toEqual(before);
        expect(before.filter((t) => t.startsWith('cellgroups'))).toEqual([]);
      });
    }

    it('names the mistake when the API database setting points at a Nova cell database', async () => {
      await asNovaManaged(d.cell.url, 'alembic', VERSION_TABLES('cell'));
      const wrong = await runManage([...d.args, 'api_db', 'version'], {
        env: { OS_API_DATABASE__CONNECTION: d.cell.url, OS_DATABASE__CONNECTION: d.api.url },
      });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(
        /managed by Nova \(alembic revision b30f573d3377\) but is a cell database, not an API database: check \[api_database\] connection\./,
      );
    });
  });
});
