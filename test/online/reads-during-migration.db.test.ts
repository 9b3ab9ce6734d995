import { writeFence } from '../../src/quotas/store.js';
import { afterEach, describe, expect, it } from 'vitest';
import { requestContext } from '../../src/context.js';
import { QuotaExceeded } from '../../src/errors.js';
import { GroupService } from '../../src/groups/service.js';
import { forEachEngine } from '../support/engines.js';
import {
  createMigrationCloud,
  liveCellRows,
  type MigrationCloud,
} from '../support/migration-cloud.js';
import { seedLegacyProject, startMigration, whileMigrating } from '../support/migrating.js';
import { must } from '../support/must.js';

/** Legacy groups per project, split over cell0 and cell1. */
const GROUPS = 90;
const ROUNDS = 1;
const LISTERS = 3;

/**
 * Issue 14, items 2 and 3: while the real CLI moves groups in passes of two
 * rows, a project without writers is listed and counted without pause, and
 * another project's user creates (and deletes again) one group at a time
 * with a quota of one more than it holds. Every list and count must see
 * every group exactly once, and no create may be refused.
 */
forEachEngine((engine) => {
  describe('reads racing the online migration', () => {
    let cloud: MigrationCloud;
    afterEach(async () => {
      await cloud.destroy();
    });

    it(`lists and counts see all ${GROUPS} groups, and creates below quota pass`, async () => {
      cloud = await createMigrationCloud(engine);
      const service = GroupService.open(cloud.deployment.api.url, {
        cells: { mappingsTtlMs: 0 },
      });
      const [cell0, cell1] = cloud.cells.map((c) => c.db);
      const wrongLists: number[] = [];
      const wrongCounts: number[] = [];
      let refused = 0;
      const runs = { lists: 0, counts: 0, creates: 0 };
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const listed = `listed-${round}`;
          const quota = `quota-${round}`;
          for (const project of [listed, quota]) {
            await seedLegacyProject(must(cell0), project, GROUPS / 3);
            await seedLegacyProject(must(cell1), project, GROUPS - GROUPS / 3);
          }
          const reader = requestContext('u1', listed);
          const creator = requestContext('u1', quota);

          const migration = startMigration(cloud, ['--batch-size', '2', '--parallel', '2']);
          const list = async () => {
            const { groups } = await service.list(reader);
            if (groups.length !== GROUPS) wrongLists.push(groups.length);
          };
          const count = async () => {
            const { count: n } = await service.countGroups({ projectId: listed });
            if (n !== GROUPS) wrongCounts.push(n);
          };
          const create = async () => {
            try {
              const group = await service.create(
                creator,
                { name: 'extra', policy: 'affinity' },
                {
                  quota: {
                    project: GROUPS + 1,
                    user: -1,
                    message: 'over quota',
                    fence: (tx, engine, projectId) =>
                      writeFence(tx, engine, projectId, 'server_groups'),
                  },
                },
              );
              await service.destroy(creator, group.uuid);
            } catch (error) {
              if (!(error instanceof QuotaExceeded)) throw error;
              refused++;
            }
          };
          const [lists = 0, ...others] = await whileMigrating(migration, [
            ...Array.from({ length: LISTERS }, () => list),
            count,
            create,
          ]);
          const [counts = 0, creates = 0] = others.slice(LISTERS - 1);
          runs.lists += lists + others.slice(0, LISTERS - 1).reduce((a, b) => a + b, 0);
          runs.counts += counts;
          runs.creates += creates;
          const { code, stderr } = await migration.exited;
          expect(code, stderr).toBe(0);
          expect(await liveCellRows(cloud.cells)).toBe(0);
        }
      } finally {
        await service.close();
      }
      console.log(
        `${engine.label}: ${runs.lists} lists, ${runs.counts} counts, ${runs.creates} creates during the migration`,
      );
      expect({ wrongLists, wrongCounts, refused }).toEqual({
        wrongLists: [],
        wrongCounts: [],
        refused: 0,
      });
    }, 120_000);
  });
});
