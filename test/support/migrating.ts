import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { MANAGE } from './cli.js';
import type { MigrationCloud } from './migration-cloud.js';

/**
 * `count` legacy groups of one project written into a cell in three
 * statements (groups, then their ids, then one policy each), with distinct
 * creation times a millisecond apart: seeding hundreds stays quick.
 */
export async function seedLegacyProject(
  db: Kysely<CellDatabase>,
  projectId: string,
  count: number,
  userId = 'u1',
): Promise<string[]> {
  const uuids = Array.from({ length: count }, () => randomUUID());
  if (count === 0) return uuids;
  const start = Date.UTC(2020, 0, 1);
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('instance_groups')
      .values(
        uuids.map((uuid, i) => ({
          uuid,
          name: `${projectId}-${i}`,
          project_id: projectId,
          user_id: userId,
          created_at: new Date(start + i),
        })),
      )
      .execute();
    const rows = await tx
      .selectFrom('instance_groups')
      .select(['id', 'created_at'])
      .where('uuid', 'in', uuids)
      .execute();
    await tx
      .insertInto('instance_group_policy')
      .values(
        rows.map((r) => ({ group_id: r.id, policy: 'anti-affinity', created_at: r.created_at })),
      )
      .execute();
  });
  return uuids;
}

/** The real CLI's migration, running in its own process. */
export interface RunningMigration {
  /** False once the process has exited. */
  readonly running: () => boolean;
  /** Its exit status and what it wrote to stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

/**
 * Starts `cellgroups-manage db online_data_migrations` with `args` (e.g.
 * `--batch-size 2`: passes of two rows, so many small commits).
 */
export function startMigration(cloud: MigrationCloud, args: readonly string[]): RunningMigration {
  const child = spawn(
    process.execPath,
    [MANAGE, ...cloud.deployment.args, 'db', 'online_data_migrations', ...args],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let running = true;
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      running = false;
      resolve({ code, stderr });
    });
  });
  return { running: () => running, exited };
}

/**
 * Runs each loop body over and over, all at once, until the migration has
 * exited; then once more each (the last reads see everything moved).
 * Returns how many times each body ran.
 */
export async function whileMigrating(
  migration: RunningMigration,
  bodies: readonly (() => Promise<void>)[],
): Promise<number[]> {
  return Promise.all(
    bodies.map(async (body) => {
      let runs = 0;
      while (migration.running()) {
        await body();
        runs++;
        // SQLite's driver answers synchronously: without a turn of the event loop
        // the child's exit would never be noticed.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await body();
      return runs + 1;
    }),
  );
}
