import pLimit from 'p-limit';
import type { Cell } from '../cells/cell-pool.js';
import { fanOut, DEFAULT_FAN_OUT } from '../cells/fan-out.js';
import { withRetry } from '../db/retry.js';
import { describeError } from '../errors.js';
import { insertManyInApi, uuidsInApi, type CopiedGroup } from '../groups/api-store.js';
import {
  countLiveInCell,
  hydrateInCell,
  lockBatchInCell,
  softDeleteManyInCell,
} from '../groups/cell-store.js';
import { failpoint } from './failpoints.js';
import type {
  CellFailure,
  CellRemaining,
  MigrationEnv,
  MigrationResult,
  OnlineMigration,
} from './migration.js';

/**
 * Moves live groups from every cell database to the API database, keeping
 * uuid, name, user, project, policy, members and both timestamps. The
 * protocol, and why no write is lost or resurrected, is in PROTOCOL.md next
 * to this file.
 */
const NAME = 'migrate_instance_groups_to_api_db';

export const instanceGroupsToApi: OnlineMigration = {
  name: NAME,
  run: migrateInstanceGroupsToApiDb,
  async remaining(env) {
    const cells = await env.cells.cells();
    const { answers, unavailable } = await fanOut(
      cells,
      (cell) => countLiveInCell(cell.database.db),
      { ...DEFAULT_FAN_OUT, concurrency: env.parallel },
    );
    const counts: CellRemaining[] = answers.map(({ cell, value }) => ({
      cell: cell.mapping,
      remaining: value,
    }));
    for (const down of unavailable) {
      const cell = cells.find((c) => c.mapping.uuid === down.uuid);
      if (cell) counts.push({ cell: cell.mapping, remaining: null, reason: down.reason });
    }
    return counts;
  },
};

/** A shared allowance of rows, so that concurrent cells together stay within max_count. */
class Budget {
  constructor(private left: number) {}
  take(wanted: number): number {
    const n = Math.min(wanted, this.left);
    this.left -= n;
    return n;
  }
  giveBack(n: number): void {
    this.left += n;
  }
}

/**
 * `migrate_instance_groups_to_api_db(context, max_count)`: at most
 * `maxCount` groups over all cells, cells concurrently (`env.parallel` at a
 * time), each cell in batches. A cell that fails is reported and the others
 * go on.
 */
export async function migrateInstanceGroupsToApiDb(
  env: MigrationEnv,
  maxCount: number,
): Promise<MigrationResult> {
  const cells = await env.cells.cells();
  const budget = new Budget(maxCount);
  // Each cell starts with its fair share, so one big cell cannot starve the rest of a pass.
  const share = Math.max(1, Math.ceil(maxCount / Math.max(1, cells.length)));
  const batch = Math.min(share, env.batchSize ?? share);
  const limit = pLimit(Math.max(1, env.parallel));

  let found = 0;
  let done = 0;
  const failures: CellFailure[] = [];
  await Promise.all(
    cells.map((cell) =>
      limit(async () => {
        for (;;) {
          const wanted = budget.take(batch);
          if (wanted === 0) return;
          let moved: { found: number; done: number };
          try {
            moved = await moveBatch(env, cell, wanted);
          } catch (error) {
            budget.giveBack(wanted);
            failures.push({ cell: cell.mapping, reason: describeError(error) });
            return;
          }
          budget.giveBack(wanted - moved.found);
          found += moved.found;
          done += moved.done;
          if (moved.done > 0)
            env.onProgress?.({ migration: NAME, cell: cell.mapping, done: moved.done });
          if (moved.found < wanted) return; // the cell has no more
        }
      }),
    ),
  );
  return { found, done, failures };
}

/**
 * One batch of one cell, in a fixed number of statements whatever its size:
 * lock and read the batch (three statements), copy it to the API database
 * (four at most, one transaction), soft-delete it in the cell (three), and
 * commit the cell last. Retried whole after a deadlock.
 */
async function moveBatch(
  env: MigrationEnv,
  cell: Cell,
  limit: number,
): Promise<{ found: number; done: number }> {
  const { database } = cell;
  const ref = { uuid: cell.mapping.uuid, name: cell.mapping.name };
  return withRetry(
    database,
    () =>
      database.db.transaction().execute(async (tx) => {
        const rows = await lockBatchInCell(tx, database.engine, limit);
        if (rows.length === 0) return { found: 0, done: 0 };
        const groups = await hydrateInCell(tx, ref, rows);
        failpoint('after-cell-lock');

        await copyToApi(env, groups);
        failpoint('after-api-commit');

        await softDeleteManyInCell(
          tx,
          rows.map((r) => r.id),
        );
        failpoint('before-cell-commit');
        return { found: rows.length, done: rows.length };
      }),
    { onRetry: (_attempt, error) => env.onRetry?.(cell.mapping, error) },
  ).finally(() => {
    failpoint('after-cell-commit');
  });
}

/**
 * Inserts the groups the API database does not have yet, in one
 * transaction. A uuid already there (an earlier run crashed between its two
 * commits) is left as it is: no writer touched its cell copy since, because
 * every writer re-checks the API database under the cell row lock.
 */
async function copyToApi(env: MigrationEnv, groups: readonly CopiedGroup[]): Promise<void> {
  const { api } = env;
  await withRetry(
    api,
    () =>
      api.db.transaction().execute(async (tx) => {
        const present = await uuidsInApi(
          tx,
          groups.map((g) => g.uuid),
        );
        await insertManyInApi(
          tx,
          api.engine,
          groups.filter((g) => !present.has(g.uuid)),
        );
        failpoint('before-api-commit');
      }),
    // A create that took one of these uuids first: the next attempt skips it.
    { alsoRetry: (error) => api.engine.isDuplicateKey(error) },
  );
}
