import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CellMappings } from '../../src/cells/cell-mappings.js';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { forEachEngine, freshDatabase, type FreshDatabase } from '../support/engines.js';

forEachEngine((engine) => {
  describe('dialect', () => {
    let fresh: FreshDatabase;
    let api: Database<ApiDatabase>;
    beforeEach(async () => {
      fresh = await freshDatabase(engine);
      api = openDatabase<ApiDatabase>(fresh.url);
      await syncSchema(api, 'api');
    });
    afterEach(async () => {
      await api.close();
      await fresh.drop();
    });

    it('stores DateTime as naive UTC and reads it back as the same instant', async () => {
      // The suite runs with TZ far from UTC, so a local-time reading would be hours off.
      expect(new Date(0).getTimezoneOffset()).not.toBe(0);
      const at = new Date('2026-03-04T05:06:07.891Z');
      await api.db
        .insertInto('instance_groups')
        .values({
          uuid: 'a',
          name: 'g',
          user_id: 'u',
          project_id: 'p',
          created_at: at,
          updated_at: null,
        })
        .execute();
      const row = await api.db
        .selectFrom('instance_groups')
        .select(['created_at', 'updated_at'])
        .executeTakeFirstOrThrow();
      expect(row.created_at).toBeInstanceOf(Date);
      // Nova's MySQL DATETIME keeps whole seconds (MariaDB truncates); the others keep milliseconds.
      const expected = engine.name === 'mysql' ? new Date('2026-03-04T05:06:07.000Z') : at;
      expect(row.created_at?.toISOString()).toBe(expected.toISOString());
      expect(row.updated_at).toBeNull();
    });

    it('round-trips booleans', async () => {
      const cells = new CellMappings(api);
      const on = await cells.create({
        name: 'on',
        transportUrl: 'none:///1',
        databaseConnection: 'sqlite://',
        disabled: true,
      });
      const off = await cells.create({
        name: 'off',
        transportUrl: 'none:///2',
        databaseConnection: 'sqlite:///x.db',
      });
      expect(on.disabled).toBe(true);
      expect(off.disabled).toBe(false);
    });

    it.runIf(engine.name === 'postgresql')(
      'survives the server dropping its idle pooled connections',
      async () => {
        await api.db.selectFrom('cell_mappings').selectAll().execute();
        const admin = openDatabase<ApiDatabase>(fresh.url);
        try {
          await sql`select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = current_database() and pid <> pg_backend_pid()`.execute(admin.db);
          await new Promise((resolve) => setTimeout(resolve, 100));
          // The process is still here, and the next query gets a new connection.
          expect(await api.db.selectFrom('cell_mappings').selectAll().execute()).toEqual([]);
        } finally {
          await admin.close();
        }
      },
    );

    it('recognizes a duplicate key, and nothing else, as one', async () => {
      const insert = () =>
        api.db
          .insertInto('instance_groups')
          .values({ uuid: 'same', name: 'g', user_id: 'u', project_id: 'p' })
          .execute();
      await insert();
      const duplicate = await insert().catch((e: unknown) => e);
      expect(api.engine.isDuplicateKey(duplicate)).toBe(true);
      expect(api.engine.isRetryable(duplicate)).toBe(false);
      const other = await api.db
        .insertInto('instance_group_policy')
        .values({ policy: 'affinity', group_id: 999_999 })
        .execute()
        .catch((e: unknown) => e);
      expect(other).toBeInstanceOf(Error); // a foreign key violation
      expect(api.engine.isDuplicateKey(other)).toBe(false);
    });
  });
});
