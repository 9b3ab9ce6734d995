import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_CONTEXT } from '../../src/context.js';
import { GroupService } from '../../src/groups/service.js';
import { FAILPOINTS } from '../../src/online/failpoints.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups, type LegacyGroup } from '../support/legacy.js';
import {
  apiGroups,
  createMigrationCloud,
  liveCellRows,
  type MigrationCloud,
} from '../support/migration-cloud.js';
import { must } from '../support/must.js';

const NAME = 'migrate_instance_groups_to_api_db';

/** prettytable's summary, as nova-manage prints it. */
const table = (needed: number, completed: number) => {
  const n = String(needed);
  const c = String(completed);
  const center = (s: string, w: number) => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const border = '+-----------------------------------+--------------+-----------+';
  return [
    border,
    '|             Migration             | Total Needed | Completed |',
    border,
    `| ${NAME} | ${center(n, 12)} | ${center(c, 9)} |`,
    border,
  ].join('\n');
};

forEachEngine((engine) => {
  describe('manage db online_data_migrations', () => {
    let cloud: MigrationCloud;
    const manage = (...args: string[]) => cloud.manage(['db', 'online_data_migrations', ...args]);
    const seed = async (cell: number, groups: LegacyGroup[]) =>
      insertLegacyGroups(must(cloud.cells[cell]).db, groups);

    beforeEach(async () => {
      cloud = await createMigrationCloud(engine);
    });
    afterEach(async () => {
      await cloud.destroy();
    });

    it('runs batches until complete over cell0 and cell1, with Nova output and status 0', async () => {
      await seed(0, [{ name: 'zero', members: ['a', 'a'] }]);
      await seed(1, [{ name: 'one' }, { name: 'two', policies: ['affinity', 'anti-affinity'] }]);
      const result = await manage();
      expect(result.stdout).toBe(
        `Running batches of 50 until complete\n3 rows matched query ${NAME}, 3 migrated\n${table(3, 3)}\n`,
      );
      expect(result.code).toBe(0);
      // Not a terminal: progress as plain lines on stderr, one per cell.
      expect(result.stderr).toMatch(/^cell0: 1\/1 groups moved \(100%\)$/m);
      expect(result.stderr).toMatch(/^cell1: 2\/2 groups moved \(100%\)$/m);

      const groups = await apiGroups(cloud.api);
      expect([...groups.values()].map((g) => g.name).sort()).toEqual(['one', 'two', 'zero']);
      expect(await liveCellRows(cloud.cells)).toBe(0);

      // Nothing left: an empty run still prints the table, and exits 0.
      expect(await manage()).toEqual({
        code: 0,
        stdout: `Running batches of 50 until complete\n${table(0, 0)}\n`,
        stderr: '',
      });
    });

    it('--max-count: one pass of at most N, status 1 while work was done, then 0', async () => {
      await seed(1, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      expect(await manage('--max-count', '2')).toMatchObject({
        code: 1,
        stdout: `2 rows matched query ${NAME}, 2 migrated\n${table(2, 2)}\n`,
      });
      expect(await manage('--max-count', '5')).toMatchObject({
        code: 1,
        stdout: `1 rows matched query ${NAME}, 1 migrated\n${table(1, 1)}\n`,
      });
      expect(await manage('--max-count', '5')).toMatchObject({
        code: 0,
        stdout: `${table(0, 0)}\n`,
      });
    });

    it('a pass smaller than the number of cells still moves what a later cell holds', async () => {
      // cell0 is empty and comes first: its share of the pass must not be lost to cell1.
      await seed(1, [{ name: 'a' }, { name: 'b' }]);
      for (let moved = 1; moved <= 2; moved++) {
        const pass = await manage('--max-count', '1');
        expect(pass, `pass ${moved}`).toMatchObject({
          code: 1,
          stdout: `1 rows matched query ${NAME}, 1 migrated\n${table(1, 1)}\n`,
        });
      }
      expect(await manage('--max-count', '1')).toMatchObject({ code: 0 });
      expect(await liveCellRows(cloud.cells)).toBe(0);

      // Without --max-count, passes of one row go on until every cell is empty.
      await seed(1, [{ name: 'c' }, { name: 'd' }]);
      const all = await manage('--batch-size', '1');
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toContain(table(2, 2));
      expect(await liveCellRows(cloud.cells)).toBe(0);
      expect((await apiGroups(cloud.api)).size).toBe(4);
    });

    it('--max-count that is not a positive integer: status 127', async () => {
      for (const bad of ['0', '-3', 'ten', '2.5']) {
        expect(await manage('--max-count', bad)).toEqual({
          code: 127,
          stdout: 'Must supply a positive value for max_number\n',
          stderr: '',
        });
      }
    });

    it('a cell that fails is reported, the others migrate, and the status is 2', async () => {
      await seed(1, [{ name: 'a' }, { name: 'b' }]);
      const created = await cloud.manage([
        'cell_v2',
        'create_cell',
        '--name',
        'down',
        '--transport-url',
        'none:///down',
        '--database_connection',
        'postgresql://nobody@127.0.0.1:9/nowhere',
      ]);
      expect(created.code).toBe(0);
      const result = await manage();
      expect(result.code).toBe(2);
      expect(result.stdout).toBe(
        [
          'Running batches of 50 until complete',
          `2 rows matched query ${NAME}, 2 migrated`,
          `Error attempting to run ${NAME}`,
          `Error attempting to run ${NAME}`,
          table(2, 2),
          'Some migrations failed unexpectedly. Check log for details.',
          '',
        ].join('\n'),
      );
      expect(result.stderr).toMatch(/cell down \([0-9a-f-]{36}\): .*(ECONNREFUSED|connect)/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect((await apiGroups(cloud.api)).size).toBe(2);

      // With --max-count, a failure is fatal only when nothing else moved.
      await seed(0, [{ name: 'c' }]);
      expect((await manage('--max-count', '10')).code).toBe(1);
      expect((await manage('--max-count', '10')).code).toBe(2);
    });

    it('--format json prints only the summary on stdout', async () => {
      await seed(0, [{ name: 'a' }]);
      const result = await manage('--format', 'json');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        migrations: [{ migration: NAME, total_needed: 1, completed: 1 }],
        failures: [],
        exit_code: 0,
      });
      expect(result.stderr).toMatch(/Running batches of 50 until complete/);
    });

    it('--dry-run counts per cell and changes nothing', async () => {
      await seed(0, [{ name: 'a' }]);
      await seed(1, [{ name: 'b' }, { name: 'c' }, { name: 'd', deleted: true }]);
      const result = await manage('--dry-run', '--format', 'json');
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as {
        cells: { cell_name: string; remaining: number }[];
      };
      expect(report.cells.map((c) => [c.cell_name, c.remaining])).toEqual([
        ['cell0', 1],
        ['cell1', 2],
      ]);
      expect((await apiGroups(cloud.api)).size).toBe(0);
      const text = await manage('--dry-run');
      expect(text.stdout).toMatch(
        /\|\s+Migration\s+\|\s+Cell\s+\|\s+Name\s+\|\s+Rows To Migrate\s+\|/,
      );
      expect(text.stdout).toMatch(
        new RegExp(`\\|\\s+${NAME}\\s+\\|\\s+[0-9a-f-]{36}\\s+\\|\\s+cell1\\s+\\|\\s+2\\s+\\|`),
      );
    });

    it('bad options are usage errors (status 2), not crashes', async () => {
      const result = await manage('--parallel', '0');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--parallel must be a positive integer/);
    });

    it('refuses the cell schema step until the groups moved, then allows it', async () => {
      await seed(1, [{ name: 'a' }, { name: 'b' }]);
      const blocked = await cloud.manage(['db', 'sync']);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toMatch(
        /Cannot sync the cell database .* to version 3: 2 live instance group\(s\).*db online_data_migrations/,
      );
      expect((await manage()).code).toBe(0);
      expect((await cloud.manage(['db', 'sync'])).code).toBe(0);
    });

    describe('a crash at each step of the protocol', () => {
      for (const point of FAILPOINTS) {
        it(`killed ${point}: reads stay right, and a re-run converges`, async () => {
          const seeded = [
            ...(await seed(0, [{ name: 'z1', members: ['m1', 'm2', 'm1'] }])),
            ...(await seed(
              1,
              Array.from({ length: 6 }, (_, i) => ({ name: `g${i}`, members: [`i${i}`, `j${i}`] })),
            )),
          ];
          const crashed = await cloud.manage(
            ['db', 'online_data_migrations', '--batch-size', '4', '--parallel', '1'],
            { CELLGROUPS_FAILPOINT: `${point}:2` },
          );
          expect(crashed.code, crashed.stderr).toBe(255); // SIGKILL
          expect(crashed.stdout).not.toMatch(/Completed/);

          // Half moved: every group reads once, whole, wherever it is.
          const service = GroupService.open(cloud.deployment.api.url, {
            cells: { mappingsTtlMs: 0 },
          });
          try {
            const listed = await service.list(ADMIN_CONTEXT, { allProjects: true });
            expect(listed.groups.map((g) => g.uuid).sort()).toEqual([...seeded].sort());
            for (const g of listed.groups) expect(g.members).toHaveLength(2);
            for (const uuid of seeded) {
              expect((await service.get(ADMIN_CONTEXT, uuid)).members).toHaveLength(2);
            }
          } finally {
            await service.close();
          }

          const rerun = await manage();
          expect(rerun.code, rerun.stderr).toBe(0);
          const groups = await apiGroups(cloud.api);
          expect([...groups.keys()].sort()).toEqual([...seeded].sort());
          for (const g of groups.values()) expect(g.members).toHaveLength(2);
          expect(await liveCellRows(cloud.cells)).toBe(0);
        });
      }
    });
  });
});
