import type { KyselyPlugin } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { requestContext } from '../../src/context.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import { CellUnavailable, GroupInCell, GroupNotFound, QuotaExceeded } from '../../src/errors.js';
import type { GroupQuota } from '../../src/groups/service.js';
import { writeFence } from '../../src/quotas/store.js';
import { blackhole, createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { must } from '../support/must.js';

/*
 * A cell synced past the blocker migration (cell schema 2) can never hold a
 * live group, so group reads and writes stop asking it. To prove a cell is
 * not asked, these tests put a live legacy row straight into such a cell
 * (what the blocker makes impossible in real life): a cell that is asked
 * would show it.
 */

const alice = requestContext('alice', 'p1');
const quota = (project: number): GroupQuota => ({
  project,
  user: -1,
  message: 'over quota',
  fence: (tx, engine, projectId) => writeFence(tx, engine, projectId, 'server_groups'),
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts the statements run through the databases it is a plugin of. */
function statementCounter(): KyselyPlugin & { count: number } {
  const counter = {
    count: 0,
    transformQuery(args: Parameters<KyselyPlugin['transformQuery']>[0]) {
      counter.count++;
      return args.node;
    },
    transformResult: (args: Parameters<KyselyPlugin['transformResult']>[0]) =>
      Promise.resolve(args.result),
  };
  return counter;
}

forEachEngine((engine) => {
  describe('cells past the blocker migration', () => {
    let cloud: TestCloud | undefined;
    afterEach(async () => {
      await cloud?.destroy();
      cloud = undefined;
    });

    it('are not read for groups: list, show, count, create (quota and uuid) skip a cell at version 2, not one at 1', async () => {
      cloud = await createCloud(engine, [engine, engine], { fanOut: { timeoutMs: 5_000 } });
      const settled = must(cloud.cells[0]);
      const legacy = must(cloud.cells[1]);
      await syncSchema(settled.db, 'cell');
      const [hidden = ''] = await insertLegacyGroups(settled.db.db, [{ name: 'hidden' }]);
      const [shown = ''] = await insertLegacyGroups(legacy.db.db, [{ name: 'shown' }]);

      const { groups, unavailable } = await cloud.service.list(alice);
      expect(groups.map((g) => g.name)).toEqual(['shown']);
      expect(unavailable).toEqual([]);
      expect((await cloud.service.get(alice, shown)).name).toBe('shown');
      await expect(cloud.service.get(alice, hidden)).rejects.toThrow(GroupNotFound);
      await expect(cloud.service.getByName(alice, 'hidden')).rejects.toThrow(GroupNotFound);
      await expect(cloud.service.destroy(alice, hidden)).rejects.toThrow(GroupNotFound);
      expect(await cloud.service.countGroups({ projectId: 'p1' })).toEqual({
        count: 1,
        unavailable: [],
      });

      // A uuid held by the version-1 cell is refused; the settled cell's is not looked for.
      await expect(
        cloud.service.create(alice, { uuid: shown, name: 'dup', policy: 'affinity' }),
      ).rejects.toThrow(GroupInCell);
      // Quota 2: the version-1 cell's group counts, the settled cell's does not.
      const options = { quota: quota(2) };
      const created = await cloud.service.create(
        alice,
        { uuid: hidden, name: 'new', policy: 'affinity' },
        options,
      );
      expect(created).toMatchObject({ uuid: hidden, name: 'new', location: { kind: 'api' } });
      await expect(
        cloud.service.create(alice, { name: 'over', policy: 'affinity' }, options),
      ).rejects.toThrow(QuotaExceeded);
    });

    it('a settled cell costs no statement once its version is known, however many callers ask at once', async () => {
      const counter = statementCounter();
      cloud = await createCloud(engine, [engine], { cells: { plugins: [counter] } });
      const settled = must(cloud.cells[0]);
      await syncSchema(settled.db, 'cell');
      await insertLegacyGroups(settled.db.db, [{ name: 'hidden', projectId: 'p1' }]);

      // Concurrent first callers share one version read.
      await Promise.all([cloud.service.list(alice), cloud.service.list(alice)]);
      const oneRead = counter.count;
      expect(oneRead).toBeGreaterThan(0);
      const service = cloud.service;
      const lone = await createCloud(engine, [engine], { cells: { plugins: [counter] } });
      try {
        await syncSchema(must(lone.cells[0]).db, 'cell');
        counter.count = 0;
        await lone.service.list(alice);
        expect(counter.count).toBe(oneRead);
      } finally {
        await lone.destroy();
      }

      counter.count = 0;
      expect((await service.list(alice)).groups).toEqual([]);
      expect((await service.countGroups({ projectId: 'p1' })).count).toBe(0);
      await expect(service.get(alice, '00000000-1111-2222-3333-444444444444')).rejects.toThrow(
        GroupNotFound,
      );
      await service.create(alice, { name: 'new', policy: 'affinity' }, { quota: quota(10) });
      expect(counter.count).toBe(0);
    });

    it('a cell synced to version 2 while the pool is open stops being asked after the TTL', async () => {
      cloud = await createCloud(engine, [engine], { cells: { schemaTtlMs: 1_500 } });
      const cell = must(cloud.cells[0]);
      expect((await cloud.service.list(alice)).groups).toEqual([]); // version 1 read and kept
      await syncSchema(cell.db, 'cell');
      await insertLegacyGroups(cell.db.db, [{ name: 'late' }]);
      // Within the TTL the cell is still taken at version 1, and asked.
      expect((await cloud.service.list(alice)).groups.map((g) => g.name)).toEqual(['late']);
      await sleep(1_600);
      expect((await cloud.service.list(alice)).groups).toEqual([]);
      expect((await cloud.service.countGroups({ projectId: 'p1' })).count).toBe(0);
    });

    it('a cell whose version cannot be read is asked as before, and reported unavailable', async () => {
      cloud = await createCloud(engine, [engine], { fanOut: { timeoutMs: 3_000 } });
      await syncSchema(must(cloud.cells[0]).db, 'cell');
      await cloud.addCell('refusing', 'postgresql://nova@127.0.0.1:1/nova');
      // Twice: the second call meets the failed read remembered for the TTL.
      for (let i = 0; i < 2; i++) {
        const result = await cloud.service.list(alice);
        expect(result.groups).toEqual([]);
        expect(result.unavailable.map((c) => c.name)).toEqual(['refusing']);
        expect(result.unavailable[0]?.reason).toMatch(/ECONNREFUSED/);
        expect((await cloud.service.countGroups({ projectId: 'p1' })).unavailable).toHaveLength(1);
        await expect(
          cloud.service.get(alice, '00000000-1111-2222-3333-444444444444'),
        ).rejects.toThrow(CellUnavailable);
        await expect(
          cloud.service.create(alice, { name: 'q', policy: 'affinity' }, { quota: quota(10) }),
        ).rejects.toThrow(CellUnavailable);
      }
    });

    it('a hung cell is reported after the fan-out timeout, as before', async () => {
      const hole = await blackhole();
      try {
        cloud = await createCloud(engine, [engine], { fanOut: { timeoutMs: 400 } });
        await syncSchema(must(cloud.cells[0]).db, 'cell');
        await cloud.addCell('hanging', `mysql+pymysql://nova@127.0.0.1:${hole.port}/nova`);
        for (let i = 0; i < 2; i++) {
          const started = Date.now();
          const result = await cloud.service.list(alice);
          expect(Date.now() - started).toBeLessThan(2_000);
          expect(result.unavailable).toEqual([
            expect.objectContaining({ name: 'hanging', reason: 'no answer within 400 ms' }),
          ]);
        }
      } finally {
        await cloud?.destroy();
        cloud = undefined;
        await hole.close();
      }
    });
  });
});
