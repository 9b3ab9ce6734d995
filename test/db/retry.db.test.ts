import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import { withRetry } from '../../src/db/retry.js';
import { LockTimeout } from '../../src/errors.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { forEachServerEngine, freshDatabase, type FreshDatabase } from '../support/engines.js';

forEachServerEngine((engine) => {
  describe('withRetry', () => {
    let fresh: FreshDatabase;
    let a: Database<ApiDatabase>;
    let b: Database<ApiDatabase>;
    beforeEach(async () => {
      fresh = await freshDatabase(engine);
      a = openDatabase<ApiDatabase>(fresh.url);
      b = openDatabase<ApiDatabase>(fresh.url);
      await syncSchema(a, 'api');
      await a.db
        .insertInto('quotas')
        .values([
          { project_id: 'one', resource: 'server_groups', hard_limit: 1 },
          { project_id: 'two', resource: 'server_groups', hard_limit: 1 },
        ])
        .execute();
    });
    afterEach(async () => {
      await Promise.all([a.close(), b.close()]);
      await fresh.drop();
    });

    /** Locks `first`, waits until the other transaction holds its row, then locks `second`. */
    const crossing = (
      db: Database<ApiDatabase>,
      first: string,
      second: string,
      barrier: { ready: number },
    ) =>
      db.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('quotas')
          .set((eb) => ({ hard_limit: eb('hard_limit', '+', 1) }))
          .where('project_id', '=', first)
          .execute();
        barrier.ready++;
        while (barrier.ready < 2) await new Promise((r) => setTimeout(r, 5));
        await tx
          .updateTable('quotas')
          .set((eb) => ({ hard_limit: eb('hard_limit', '+', 1) }))
          .where('project_id', '=', second)
          .execute();
      });

    it('reruns a transaction that lost a real deadlock, and both writes land once', async () => {
      const barrier = { ready: 0 };
      const retries: number[] = [];
      const onRetry = (attempt: number) => {
        retries.push(attempt);
        barrier.ready = 2; // the survivor already holds both rows; do not wait again
      };
      await Promise.all([
        withRetry(a, () => crossing(a, 'one', 'two', barrier), { onRetry }),
        withRetry(b, () => crossing(b, 'two', 'one', barrier), { onRetry }),
      ]);
      expect(retries).toEqual([1]);
      const limits = await a.db
        .selectFrom('quotas')
        .select(['project_id', 'hard_limit'])
        .orderBy('project_id')
        .execute();
      expect(limits).toEqual([
        { project_id: 'one', hard_limit: 3 },
        { project_id: 'two', hard_limit: 3 },
      ]);
    });

    it('does not retry what a retry cannot fix, and gives up after its bound', async () => {
      let calls = 0;
      await expect(
        withRetry(a, async () => {
          calls++;
          await sql`select * from no_such_table`.execute(a.db);
        }),
      ).rejects.toThrow();
      expect(calls).toBe(1);

      calls = 0;
      const deadlock = engine.name === 'postgresql' ? { code: '40P01' } : { errno: 1213 };
      await expect(
        withRetry(
          a,
          () => {
            calls++;
            return Promise.reject(Object.assign(new Error('deadlock'), deadlock));
          },
          { attempts: 3, baseDelayMs: 1 },
        ),
      ).rejects.toThrow(/kept reporting conflicts \(deadlock\) after 3 attempts/);
      expect(calls).toBe(3);

      // A lock wait that gave up already waited the bound: never again (MariaDB 1205 was retried).
      calls = 0;
      const lockWait = engine.name === 'postgresql' ? { code: '55P03' } : { errno: 1205 };
      await expect(
        withRetry(a, () => {
          calls++;
          return Promise.reject(Object.assign(new Error('lock wait timeout'), lockWait));
        }),
      ).rejects.toThrow(LockTimeout);
      expect(calls).toBe(1);
    });
  });
});
