import type { Transaction } from 'kysely';
import pLimit from 'p-limit';
import type { Cell } from '../cells/cell-pool.js';
import { fanOut, DEFAULT_FAN_OUT } from '../cells/fan-out.js';
import { dbFailure, type Database } from '../db/connection.js';
import type { Engine } from '../db/dialects/index.js';
import type { CellDatabase } from '../db/schema/cell.js';
import { withRetry } from '../db/retry.js';
import type { ApiDatabase } from '../db/schema/api.js';
import { CellgroupsError, describeError } from '../errors.js';
import {
  addMembersInApi,
  deleteInApi,
  insertManyInApi,
  lockInApi,
  removeMembersInApi,
  renameInApi,
  replacePolicyInApi,
  uuidsInApi,
  type CopiedGroup,
} from '../groups/api-store.js';
import {
  countLiveInCell,
  lockBatchInCell,
  lockByUuidsInCell,
  readInCell,
  softDeleteReadInCell,
} from '../groups/cell-store.js';
import { failpoint, SimulatedConflict } from './failpoints.js';
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

/**
 * Groups one transaction moves from one cell unless told otherwise: enough
 * that per-statement costs vanish, few enough that row locks are held for a
 * fraction of a second and memory stays small.
 */
export const DEFAULT_BATCH_ROWS = 1_000;

/**
 * A shared allowance of rows, so that concurrent cells together stay within
 * max_count. A cell that finds it spent while other cells' batches are in
 * flight waits for them to settle instead of giving up: a batch that found
 * fewer rows than it took (an empty cell) gives the rest back, and a cell
 * that had given up meanwhile would end the pass with rows it could have
 * moved. With a pass smaller than the number of cells that left a pass
 * moving nothing (status 0, "done") while a later cell was full.
 */
class Budget {
  private inFlight = 0;
  private waiting: (() => void)[] = [];
  constructor(private left: number) {}
  /** Up to `wanted` rows; 0 only when the allowance is spent and no batch can give any back. */
  async take(wanted: number): Promise<number> {
    for (;;) {
      const n = Math.min(wanted, this.left);
      if (n > 0) {
        this.left -= n;
        this.inFlight++;
        return n;
      }
      if (this.inFlight === 0) return 0;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }
  /** A batch that took rows has ended, and did not use `unused` of them. */
  settle(unused: number): void {
    this.inFlight--;
    this.left += unused;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
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
  const batch = Math.min(share, env.batchSize ?? DEFAULT_BATCH_ROWS);
  const limit = pLimit(Math.max(1, env.parallel));

  let found = 0;
  let done = 0;
  const failures: CellFailure[] = [];
  await Promise.all(
    cells.map((cell) =>
      limit(async () => {
        for (;;) {
          const wanted = await budget.take(batch);
          if (wanted === 0) return;
          let moved: { found: number; done: number };
          try {
            moved = await moveBatch(env, cell, wanted);
          } catch (error) {
            budget.settle(wanted);
            const failure =
              error instanceof CellgroupsError
                ? error
                : dbFailure(
                    cell.database,
                    'move a batch of groups out of the cell database',
                    error,
                  );
            failures.push({ cell: cell.mapping, reason: describeError(failure) });
            return;
          }
          budget.settle(Math.max(0, wanted - moved.found));
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
 *
 * A retry after the API commit meets copies this batch already made. On one
 * server nothing can have changed the locked cell rows in between; on a
 * multi-writer cluster a writer on another node can have (its commit is what
 * made ours fail), so the retry takes exactly those groups again and brings
 * their API copies up to date with the cell (see PROTOCOL.md).
 */
async function moveBatch(
  env: MigrationEnv,
  cell: Cell,
  limit: number,
): Promise<{ found: number; done: number }> {
  const { database } = cell;
  const ref = { uuid: cell.mapping.uuid, name: cell.mapping.name };
  // What the API database was given by an attempt whose cell side then failed.
  const copied = new Map<string, CopiedGroup>();
  return withRetry(
    database,
    () =>
      database.db.transaction().execute(async (tx) => {
        const rows =
          copied.size === 0
            ? await lockBatchInCell(tx, database.engine, limit, movedUpTo.get(database) ?? 0)
            : await lockByUuidsInCell(tx, database.engine, [...copied.keys()]);
        if (rows.length === 0 && copied.size === 0) return { found: 0, done: 0, last: undefined };
        const read = await readInCell(tx, ref, rows);
        const { groups } = read;
        failpoint('after-cell-lock');

        await copyToApi(env, groups, copied);
        const found = copied.size;
        copied.clear();
        for (const g of groups) copied.set(g.uuid, g);
        failpoint('after-api-commit');

        await softDeleteReadInCell(
          tx,
          database.engine,
          rows.map((r) => r.id),
          read,
        );
        failpoint('before-cell-commit');
        const last = rows.at(-1)?.id;
        return { found: Math.max(found, rows.length), done: Math.max(found, rows.length), last };
      }),
    {
      alsoRetry: (error) => error instanceof SimulatedConflict,
      onRetry: (_attempt, error) => env.onRetry?.(cell.mapping, error),
    },
  )
    .then(({ found, done, last }) => {
      // Committed: nothing at or below `last` is live any more (see movedUpTo).
      if (last !== undefined) movedUpTo.set(database, Math.max(last, movedUpTo.get(database) ?? 0));
      return { found, done };
    })
    .finally(() => {
      failpoint('after-cell-commit');
    });
}

/**
 * Per cell database handle, the highest group id a committed batch of this
 * process moved. Every live row at or below it was in a batch (rows are
 * taken in id order and a batch waits for rows a writer holds), soft-delete
 * is final, and new rows get higher ids: so the next batch starts after it.
 */
const movedUpTo = new WeakMap<Database<CellDatabase>, number>();

/**
 * Brings the API database up to date with `groups`, in one transaction:
 * - a group it does not have is inserted (multi-row statements);
 * - a group it has that `copied` does not know is left as it is: an earlier
 *   run crashed between its two commits, and no writer touched the cell
 *   copy since (every writer re-checks the API database under the cell
 *   row lock);
 * - a group `copied` knows (this batch copied it, then its cell commit
 *   failed) gets the cell's changes since that copy, on top of whatever API
 *   writers did to it since; if an API writer deleted it, it stays deleted;
 * - a group `copied` knows that is no longer live in the cell was deleted
 *   there by a writer in between: its API copy goes too.
 */
async function copyToApi(
  env: MigrationEnv,
  groups: readonly CopiedGroup[],
  copied: ReadonlyMap<string, CopiedGroup>,
): Promise<void> {
  const { api } = env;
  try {
    await withRetry(
      api,
      () =>
        api.db.transaction().execute(async (tx) => {
          const present = await uuidsInApi(tx, [...groups.map((g) => g.uuid), ...copied.keys()]);
          await insertManyInApi(
            tx,
            api.engine,
            groups.filter((g) => !present.has(g.uuid) && !copied.has(g.uuid)),
          );
          const live = new Set(groups.map((g) => g.uuid));
          for (const [uuid, before] of copied) {
            if (!present.has(uuid)) continue;
            const locked = await lockInApi(tx, api.engine, uuid);
            if (!locked) continue;
            const after = groups.find((g) => g.uuid === uuid);
            if (!live.has(uuid) || !after) await deleteInApi(tx, locked.id);
            else await applyCellChanges(tx, api.engine, locked.id, before, after);
          }
          failpoint('before-api-commit');
        }),
      // A create that took one of these uuids first: the next attempt skips it.
      { alsoRetry: (error) => api.engine.isDuplicateKey(error) },
    );
  } catch (error) {
    // Say which database failed: the API database's node may be the one that went away.
    if (error instanceof CellgroupsError || error instanceof SimulatedConflict) throw error;
    throw dbFailure(api, 'copy a batch of groups to the API database', error);
  }
}

/** What a writer changed on the cell copy between `before` and `after`, done to the API copy. */
async function applyCellChanges(
  tx: Transaction<ApiDatabase>,
  engine: Engine,
  id: number,
  before: CopiedGroup,
  after: CopiedGroup,
): Promise<void> {
  if (after.name !== before.name && after.name !== null) await renameInApi(tx, id, after.name);
  if (after.policy !== before.policy && after.policy !== null)
    await replacePolicyInApi(tx, id, after.policy, undefined);
  const had = new Set(before.members);
  const has = new Set(after.members);
  await addMembersInApi(
    tx,
    engine,
    id,
    after.members.filter((m) => !had.has(m)),
  );
  await removeMembersInApi(
    tx,
    id,
    before.members.filter((m) => !has.has(m)),
  );
}
