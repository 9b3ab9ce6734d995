import { describeError } from '../errors.js';
import { instanceGroupsToApi } from './instance-groups.js';
import type { CellFailure, MigrationEnv, OnlineMigration } from './migration.js';

/** Every online data migration, in the order they run. */
export const ONLINE_MIGRATIONS: readonly OnlineMigration[] = [instanceGroupsToApi];

/** Nova's batch size when no --max-count is given. */
export const DEFAULT_BATCH = 50;

/** What one migration did in one pass. */
export interface PassResult {
  readonly name: string;
  readonly found: number;
  readonly done: number;
  /** Cells that failed, or the whole migration when it threw before reaching any. */
  readonly failures: readonly CellFailure[];
  readonly error?: string;
}

export interface RunOptions {
  /** At most this many rows in one pass; without it, passes of `batch` until one moves nothing. */
  readonly maxCount?: number;
  readonly batch?: number;
  /** Told after each migration in each pass (for "X rows matched query NAME, Y migrated"). */
  readonly onResult?: (result: PassResult) => void;
  readonly migrations?: readonly OnlineMigration[];
}

export interface RunSummary {
  /** Per migration, summed over passes: [found, done]. */
  readonly totals: ReadonlyMap<string, { found: number; done: number }>;
  /** nova-manage's status: 0 nothing left, 1 more may remain, 2 a migration failed. */
  readonly exitCode: 0 | 1 | 2;
}

/**
 * nova-manage's `online_data_migrations` loop. Operators script against its
 * exit statuses, so they are Nova's: with `maxCount`, one pass that moves at
 * most that many rows over all migrations, 1 when it moved some (more may
 * remain), 0 when it moved none; without, passes until one moves nothing,
 * then 0. Either way 2 when a migration failed and nothing else could make
 * progress (always, without `maxCount`): the failure needs a person.
 */
export async function runOnlineMigrations(
  env: MigrationEnv,
  options: RunOptions = {},
): Promise<RunSummary> {
  const migrations = options.migrations ?? ONLINE_MIGRATIONS;
  const unlimited = options.maxCount === undefined;
  const perPass = options.maxCount ?? options.batch ?? DEFAULT_BATCH;
  const totals = new Map<string, { found: number; done: number }>();
  let failed = false;
  let ran: number;
  do {
    ran = 0;
    failed = false;
    for (const migration of migrations) {
      let result: PassResult;
      try {
        const r = await migration.run(env, perPass - ran);
        result = { name: migration.name, ...r };
      } catch (error) {
        result = {
          name: migration.name,
          found: 0,
          done: 0,
          failures: [],
          error: describeError(error),
        };
      }
      if (result.error !== undefined || result.failures.length > 0) failed = true;
      options.onResult?.(result);
      const total = totals.get(migration.name) ?? { found: 0, done: 0 };
      totals.set(migration.name, {
        found: total.found + result.found,
        done: total.done + result.done,
      });
      ran += result.done;
      // The pass's allowance is shared by the migrations, as in Nova.
      if (ran >= perPass) break;
    }
  } while (unlimited && ran !== 0);
  const exitCode = failed && (unlimited || ran === 0) ? 2 : ran > 0 ? 1 : 0;
  return { totals, exitCode };
}
