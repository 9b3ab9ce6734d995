import type { KyselyPlugin } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_CONTEXT } from '../../src/context.js';
import { syncSchema } from '../../src/db/migrations/migrator.js';
import { UpgradeBlocked } from '../../src/errors.js';
import { insertInApi } from '../../src/groups/api-store.js';
import { softDeleteInCell } from '../../src/groups/cell-store.js';
import { armFailpoint } from '../../src/online/failpoints.js';
import { instanceGroupsToApi } from '../../src/online/instance-groups.js';
import type { MigrationEnv } from '../../src/online/migration.js';
import { runOnlineMigrations } from '../../src/online/registry.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine, type TestEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import { liveCellRows } from '../support/migration-cloud.js';
import { must } from '../support/must.js';

const at = (seconds: number) => new Date(Date.UTC(2024, 5, 1, 12, 0, seconds));

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

const env = (cloud: TestCloud, overrides: Partial<MigrationEnv> = {}): MigrationEnv => ({
  api: cloud.api,
  cells: cloud.service.cells,
  parallel: 2,
  ...overrides,
});

const liveInCells = (cloud: TestCloud) => liveCellRows(cloud.cells.map((c) => c.db));

forEachEngine((engine: TestEngine) => {
  describe('migrate_instance_groups_to_api_db', () => {
    let cloud: TestCloud;
    afterEach(async () => {
      await cloud.destroy();
    });

    it('converts legacy groups: first policy, no rules, members once, times and owners kept', async () => {
      cloud = await createCloud(engine, [engine]);
      const cell = must(cloud.cells[0]);
      const [legacy] = await insertLegacyGroups(cell.db.db, [
        {
          name: 'web',
          projectId: 'p1',
          userId: 'u1',
          policies: ['affinity', 'anti-affinity'],
          members: ['i1', 'i2', 'i1', 'i3', 'i2'],
          createdAt: at(7),
        },
      ]);
      const [gone] = await insertLegacyGroups(cell.db.db, [{ name: 'old', deleted: true }]);

      const result = await instanceGroupsToApi.run(env(cloud), 50);
      expect(result).toEqual({ found: 1, done: 1, failures: [] });

      const moved = await cloud.service.get(ADMIN_CONTEXT, must(legacy));
      expect(moved).toMatchObject({
        uuid: legacy,
        name: 'web',
        projectId: 'p1',
        userId: 'u1',
        policy: 'affinity',
        rules: {},
        location: { kind: 'api' },
      });
      expect([...moved.members].sort()).toEqual(['i1', 'i2', 'i3']);
      expect(moved.createdAt?.toISOString()).toBe(at(7).toISOString());
      await expect(cloud.service.get(ADMIN_CONTEXT, must(gone))).rejects.toThrow(
        /could not be found/,
      );
      expect(await liveInCells(cloud)).toBe(0);
      // Nothing left: (0, 0).
      expect(await instanceGroupsToApi.run(env(cloud), 50)).toEqual({
        found: 0,
        done: 0,
        failures: [],
      });
    });

    it('a uuid already in the API database counts as done; only the stale cell copy goes', async () => {
      cloud = await createCloud(engine, [engine]);
      const cell = must(cloud.cells[0]);
      const [uuid] = await insertLegacyGroups(cell.db.db, [{ name: 'cell-copy', members: ['i1'] }]);
      // An earlier run that crashed after the API commit: the API copy is
      // the one writers have used since, and must not be overwritten.
      await insertInApi(cloud.api.db, cloud.api.engine, {
        uuid: must(uuid),
        name: 'api-copy',
        userId: 'u1',
        projectId: 'p1',
        policy: 'affinity',
        rules: {},
        members: ['i9'],
        createdAt: at(1),
      });
      expect(await instanceGroupsToApi.run(env(cloud), 50)).toEqual({
        found: 1,
        done: 1,
        failures: [],
      });
      const group = await cloud.service.get(ADMIN_CONTEXT, must(uuid));
      expect(group).toMatchObject({ name: 'api-copy', members: ['i9'] });
      expect(await liveInCells(cloud)).toBe(0);
    });

    it('covers every cell, cell0 included, and stays within max_count over all of them', async () => {
      cloud = await createCloud(engine, [engine, engine], {}, { cell0: true });
      expect(must(cloud.cells[0]).mapping.name).toBe('cell0');
      for (const [i, { db }] of cloud.cells.entries()) {
        await insertLegacyGroups(
          db.db,
          Array.from({ length: 7 }, (_, n) => ({ name: `c${i}-g${n}`, members: [`c${i}-i${n}`] })),
        );
      }
      const first = await instanceGroupsToApi.run(env(cloud, { parallel: 3 }), 5);
      expect(first.found).toBeLessThanOrEqual(5);
      expect(first.done).toBe(first.found);
      let total = first.done;
      for (;;) {
        const r = await instanceGroupsToApi.run(env(cloud, { parallel: 3 }), 5);
        expect(r.failures).toEqual([]);
        expect(r.found).toBeLessThanOrEqual(5);
        total += r.done;
        if (r.found === 0) break;
      }
      expect(total).toBe(14);
      const listed = await cloud.service.list(ADMIN_CONTEXT, { allProjects: true });
      expect(listed.groups).toHaveLength(14);
      expect(new Set(listed.groups.map((g) => g.uuid)).size).toBe(14);
      expect(listed.groups.every((g) => g.location.kind === 'api')).toBe(true);
      expect(await liveInCells(cloud)).toBe(0);
    });

    it('moves a batch in a fixed number of statements, whatever its size', async () => {
      const cellCounter = statementCounter();
      cloud = await createCloud(engine, [engine], { cells: { plugins: [cellCounter] } });
      await insertLegacyGroups(
        must(cloud.cells[0]).db.db,
        Array.from({ length: 120 }, (_, n) => ({
          name: `g${n}`,
          policies: ['anti-affinity', 'affinity'],
          members: [`a${n}`, `b${n}`, `c${n}`],
        })),
      );
      cellCounter.count = 0;
      const result = await instanceGroupsToApi.run(env(cloud, { batchSize: 120 }), 120);
      expect(result.done).toBe(120);
      // Lock and read the batch (3), soft-delete it (3), plus transaction control.
      expect(cellCounter.count).toBeLessThanOrEqual(8);
    });

    it('reports a cell it cannot reach and migrates the others', async () => {
      cloud = await createCloud(engine, [engine]);
      await cloud.addCell('down', 'postgresql://nobody@127.0.0.1:9/nowhere');
      await cloud.addCell('garbled', 'postgresql://nobody@127.0.0.1:notaport/x');
      await insertLegacyGroups(must(cloud.cells[0]).db.db, [{ name: 'a' }, { name: 'b' }]);
      const result = await instanceGroupsToApi.run(env(cloud), 50);
      expect(result.done).toBe(2);
      const failures = new Map(result.failures.map((f) => [f.cell.name, f.reason]));
      expect([...failures.keys()].sort()).toEqual(['down', 'garbled']);
      expect(failures.get('down')).toMatch(/ECONNREFUSED|connect/i);
      expect(failures.get('garbled')).toMatch(/port/i);

      const summary = await runOnlineMigrations(env(cloud), {});
      expect(summary.exitCode).toBe(2);
    });

    it('a conflict at the cell commit after the API commit: cell writes made in between reach the API copy', async () => {
      cloud = await createCloud(engine, [engine]);
      const cell = must(cloud.cells[0]);
      const [a, b, c] = await insertLegacyGroups(cell.db.db, [
        { name: 'a', members: ['a1', 'a2'] },
        { name: 'b', members: ['b1'] },
        { name: 'c', members: ['c1'] },
      ]);
      armFailpoint('before-cell-commit', { conflict: 1 });
      const retried: string[] = [];
      try {
        const result = await instanceGroupsToApi.run(
          env(cloud, {
            // What a writer on another node of a cluster could commit while
            // this batch had copied the groups but not yet committed its
            // cell side: it did not see the API copies yet.
            onRetry: async (_cell, error) => {
              retried.push(String(error));
              const db = cell.db.db;
              const idOf = async (uuid: string) =>
                (
                  await db
                    .selectFrom('instance_groups')
                    .select('id')
                    .where('uuid', '=', uuid)
                    .where('deleted', '=', 0)
                    .executeTakeFirstOrThrow()
                ).id;
              await db
                .insertInto('instance_group_member')
                .values({ group_id: await idOf(must(a)), instance_id: 'a3', created_at: at(9) })
                .execute();
              await db
                .updateTable('instance_groups')
                .set({ name: 'b-renamed' })
                .where('uuid', '=', must(b))
                .execute();
              await softDeleteInCell(db, await idOf(must(c)));
              // And an API writer, who does see the API copy of a.
              await cloud.service.removeMembers(ADMIN_CONTEXT, must(a), ['a1']);
            },
          }),
          50,
        );
        expect(result).toEqual({ found: 3, done: 3, failures: [] });
      } finally {
        armFailpoint(undefined);
      }
      expect(retried).toEqual(['Error: simulated write conflict at before-cell-commit']);
      const groupA = await cloud.service.get(ADMIN_CONTEXT, must(a));
      expect([...groupA.members].sort()).toEqual(['a2', 'a3']);
      expect(groupA.location.kind).toBe('api');
      expect((await cloud.service.get(ADMIN_CONTEXT, must(b))).name).toBe('b-renamed');
      await expect(cloud.service.get(ADMIN_CONTEXT, must(c))).rejects.toThrow(/could not be found/);
      expect(await liveInCells(cloud)).toBe(0);
    });

    it('the cell schema step past the legacy version refuses while live groups remain', async () => {
      cloud = await createCloud(engine, [engine]);
      const cell = must(cloud.cells[0]);
      await insertLegacyGroups(cell.db.db, [
        { name: 'a' },
        { name: 'b' },
        { name: 'c', deleted: true },
      ]);
      const blocked = syncSchema(cell.db, 'cell');
      await expect(blocked).rejects.toThrow(UpgradeBlocked);
      await expect(syncSchema(cell.db, 'cell')).rejects.toThrow(
        /2 live instance group\(s\).*online_data_migrations/,
      );
      expect((await runOnlineMigrations(env(cloud), {})).exitCode).toBe(0);
      await expect(syncSchema(cell.db, 'cell')).resolves.toMatchObject({ from: 1, to: 3 });
    });
  });
});
