import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connection.js';
import type { ApiDatabase } from '../../src/db/schema/api.js';
import { MANAGE } from '../support/cli.js';
import { databaseOf, serverUrlFor } from '../support/engines.js';
import { describeGalera, type GaleraTestCluster } from '../support/galera.js';
import { insertLegacyGroups } from '../support/legacy.js';
import {
  apiGroups,
  createMigrationCloud,
  liveCellRows,
  type MigrationCloud,
} from '../support/migration-cloud.js';

const GROUPS_PER_CELL = 400;

/** What was seeded: uuid → sorted members. */
type Seeded = Map<string, string[]>;

async function seed(cloud: MigrationCloud): Promise<Seeded> {
  const seeded: Seeded = new Map();
  for (const [c, cell] of cloud.cells.entries()) {
    const groups = Array.from({ length: GROUPS_PER_CELL }, (_, i) => ({
      name: `k${c}-${i}`,
      projectId: `p${i % 3}`,
      policies: ['anti-affinity'],
      members: [`m${c}-${i}-a`, `m${c}-${i}-b`, `m${c}-${i}-c`],
    }));
    const uuids = await insertLegacyGroups(cell.db, groups);
    uuids.forEach((uuid, i) => seeded.set(uuid, [...(groups[i]?.members ?? [])].sort()));
  }
  return seeded;
}

/** The real CLI's migration, in small passes, through the deployment's config (API on node 1). */
function startMigration(cloud: MigrationCloud) {
  const child = spawn(
    process.execPath,
    [MANAGE, ...cloud.deployment.args, 'db', 'online_data_migrations', '--batch-size', '10'],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; output: string; ms: number }>((resolve) => {
    const started = Date.now();
    child.on('exit', (code) => {
      resolve({ code, output, ms: Date.now() - started });
    });
  });
  return { exited };
}

/** Waits until the API database (read through `api`) holds at least `n` groups. */
async function untilMoved(api: Database<ApiDatabase>, n: number): Promise<void> {
  for (;;) {
    const [row] = await api.db
      .selectFrom('instance_groups')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .execute();
    if (Number(row?.n ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every seeded group, with its policy and members, exactly once in the API database; none left in a cell. */
async function expectConverged(cloud: MigrationCloud, api: Database<ApiDatabase>, seeded: Seeded) {
  const actual = await apiGroups(api); // fails on any row present twice
  expect(actual.size).toBe(seeded.size);
  for (const [uuid, members] of seeded) {
    expect(actual.get(uuid), uuid).toMatchObject({ policy: 'anti-affinity', members });
  }
  expect(await liveCellRows(cloud.cells)).toBe(0);
}

describeGalera(
  'a node killed (kill -9) in the middle of the migration',
  (cluster: GaleraTestCluster) => {
    let cloud: MigrationCloud | undefined;
    const open: Database<ApiDatabase>[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((d) => d.close()));
      await cloud?.destroy();
      cloud = undefined;
    });
    /** The API database through node `index`. */
    const apiOn = (index: number): Database<ApiDatabase> => {
      if (!cloud) throw new Error('no cloud');
      const db = openDatabase<ApiDatabase>(
        serverUrlFor(cluster.node(index).url, databaseOf(cloud.deployment.api.url)),
      );
      open.push(db);
      return db;
    };

    it('another node dies: the migration finishes through its own node, the node rejoins with every group', async () => {
      // Cells through node 2, the API database (and the migration) through node 1; node 3 dies.
      cloud = await createMigrationCloud(cluster.engine(2), cluster.engine(1));
      const seeded = await seed(cloud);
      const migration = startMigration(cloud);
      await untilMoved(apiOn(2), 100);
      await cluster.kill(3);
      const { code, output } = await migration.exited;
      expect(code, output).toBe(0);
      const rejoin = await cluster.restart(3);
      console.log(`Galera node 3 rejoined by ${JSON.stringify(rejoin)}`);
      await expectConverged(cloud, apiOn(3), seeded);
    });

    it("the migration's own node dies: it fails with a clear error and exit status, and a re-run converges", async () => {
      // Cells through node 2, the API database (and the migration) through node 1, which dies.
      cloud = await createMigrationCloud(cluster.engine(2), cluster.engine(1));
      const seeded = await seed(cloud);
      const migration = startMigration(cloud);
      await untilMoved(apiOn(2), 100);
      await cluster.kill(1);
      const { code, output, ms } = await migration.exited;
      console.log(`migration after its node died: exit ${code} in ${ms} ms:\n${output}`);
      expect(code).not.toBe(0);
      expect(output).toMatch(/Error attempting to run migrate_instance_groups_to_api_db/);
      // The failure names the database that went away: the API database, on node 1.
      expect(output).toContain(
        `Could not copy a batch of groups to the API database on mysql+pymysql://root@127.0.0.1:${cluster.node(1).port}/`,
      );
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
      await cluster.restart(1);
      const rerun = await cloud.manage(['db', 'online_data_migrations']);
      expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
      await expectConverged(cloud, apiOn(2), seeded);
    });
  },
);
