import { setTimeout as sleep } from 'node:timers/promises';
import { DbError, LockTimeout, describeError } from '../errors.js';
import type { Database } from './connection.js';

/**
 * The one place that retries. A transaction that meets a deadlock or a
 * serialization failure (PostgreSQL 40001/40P01, MariaDB 1213 — also how a
 * Galera cluster reports a write that lost certification) was rolled back
 * as a whole, so `work` runs again from its beginning; nothing it did in the
 * failed attempt counts. Bounded, with jittered backoff.
 *
 * A lock wait that gave up (MariaDB 1205, PostgreSQL lock_timeout, SQLite
 * BUSY) is not retried: the wait was the bound (see docs/write-bounds.md),
 * and another would double it. It becomes a `LockTimeout`.
 */
export interface RetryOptions {
  readonly attempts?: number;
  readonly baseDelayMs?: number;
  /** Also retry on these errors (e.g. a unique key another writer took first). */
  readonly alsoRetry?: (error: unknown) => boolean;
  /** Called (and awaited) before each retry: counters, logs, tests. */
  readonly onRetry?: (attempt: number, error: unknown) => void | Promise<void>;
}

let retried = 0;

/**
 * Transactions this process ran again after a conflict, since it started:
 * how often writers met each other (on a Galera cluster, how often
 * certification turned one of them back). For logs and tests.
 */
export function conflictRetries(): number {
  return retried;
}

export async function withRetry<DB, T>(
  database: Pick<Database<DB>, 'engine'>,
  work: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (database.engine.isLockTimeout(error)) {
        throw new LockTimeout(
          `A row this needs stayed locked by another transaction (${describeError(error)}); try again.`,
          { cause: error },
        );
      }
      const retryable = database.engine.isRetryable(error) || options.alsoRetry?.(error) === true;
      if (!retryable) throw error;
      if (attempt >= attempts) {
        // Still conflicting: a busy moment, not a bug. Say so, as an error callers map (503, exit 1).
        throw new DbError(
          `The database kept reporting conflicts (${describeError(error)}) after ${attempts} attempts; try again.`,
          { cause: error },
        );
      }
      retried++;
      await options.onRetry?.(attempt, error);
      await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}
