import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MANAGE } from '../support/cli.js';
import { forEachServerEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';
import {
  apiGroups,
  createMigrationCloud,
  liveCellRows,
  runSeed,
  seededRandom,
  type GroupState,
  type MigrationCloud,
} from '../support/migration-cloud.js';

const KILLS = 50;
const TIME_LIMIT_MS = 150_000;

/**
 * The real CLI, killed with SIGKILL at random moments (seeded) again and
 * again while it moves groups in small batches; groups are added whenever
 * a run gets to finish. After the last kill, one run to completion must
 * leave every group, policy and member in the API database exactly once
 * and nothing live in the cells.
 */
forEachServerEngine((engine) => {
  describe('online migration killed with SIGKILL over and over', () => {
    let cloud: MigrationCloud;
    afterEach(async () => {
      await cloud.destroy();
    });

    it(`converges after ${KILLS} kills`, async () => {
      const seed = runSeed();
      console.log(`kill loop on ${engine.label}: CELLGROUPS_TEST_SEED=${seed}`);
      const random = seededRandom(seed);
      cloud = await createMigrationCloud(engine);
      const expected = new Map<string, GroupState>();
      let serial = 0;
      const addLegacy = async (perCell: number) => {
        for (const cell of cloud.cells) {
          const groups = Array.from({ length: perCell }, () => {
            const n = serial++;
            return {
              name: `g${n}`,
              projectId: `p${n % 3}`,
              userId: `u${n % 5}`,
              policies: ['anti-affinity', 'affinity'],
              members: [`a${n}`, `b${n}`, `a${n}`],
            };
          });
          const uuids = await insertLegacyGroups(cell.db, groups);
          uuids.forEach((uuid, i) => {
            const g = groups[i];
            if (!g) return;
            expected.set(uuid, {
              name: g.name,
              projectId: g.projectId,
              userId: g.userId,
              policy: 'anti-affinity',
              members: [`a${g.name.slice(1)}`, `b${g.name.slice(1)}`],
            });
          });
        }
      };
      await addLegacy(150);

      let kills = 0;
      let finished = 0;
      const started = Date.now();
      while (kills < KILLS && Date.now() - started < TIME_LIMIT_MS) {
        const child = spawn(
          process.execPath,
          [MANAGE, ...cloud.deployment.args, 'db', 'online_data_migrations', '--batch-size', '8'],
          { env: { PATH: process.env.PATH ?? '' }, stdio: 'ignore' },
        );
        const exit = new Promise<number | null>((resolve) => {
          child.on('exit', (code) => {
            resolve(code);
          });
        });
        const outcome = await Promise.race([exit, sleep(120 + random() * 450, 'alive' as const)]);
        if (outcome === 'alive') {
          child.kill('SIGKILL');
          await exit;
          kills++;
        } else {
          expect(outcome, 'an uninterrupted run succeeds').toBe(0);
          finished++;
          await addLegacy(250);
        }
      }
      console.log(
        `${engine.label}: ${kills} kills, ${finished} runs finished, ${expected.size} groups`,
      );
      expect(kills).toBeGreaterThanOrEqual(KILLS);

      const last = await cloud.manage(['db', 'online_data_migrations']);
      expect(last.code, last.stderr).toBe(0);
      const actual = await apiGroups(cloud.api);
      expect(actual.size).toBe(expected.size);
      for (const [uuid, want] of expected) expect(actual.get(uuid), uuid).toEqual(want);
      expect(await liveCellRows(cloud.cells)).toBe(0);
    }, 240_000);
  });
});
