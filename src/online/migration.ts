import type { CellPool } from '../cells/cell-pool.js';
import type { CellMapping } from '../cells/cell-mappings.js';
import type { Database } from '../db/connection.js';
import type { ApiDatabase } from '../db/schema/api.js';

/** What an online migration works on: the API database and every mapped cell. */
export interface MigrationEnv {
  readonly api: Database<ApiDatabase>;
  readonly cells: CellPool;
  /** How many cells are migrated at once. */
  readonly parallel: number;
  /** Most rows one transaction moves from one cell (default 1,000). */
  readonly batchSize?: number;
  /** Told after every committed batch (progress bars). */
  readonly onProgress?: (progress: CellProgress) => void;
  /** Told when a batch is retried after a deadlock or serialization failure. */
  readonly onRetry?: (cell: CellMapping, error: unknown) => void | Promise<void>;
}

export interface CellProgress {
  readonly migration: string;
  readonly cell: CellMapping;
  /** Rows this batch moved. */
  readonly done: number;
}

/** A cell the migration could not work on, and why (in words for the operator). */
export interface CellFailure {
  readonly cell: CellMapping;
  readonly reason: string;
}

/** Nova's `(found, done)`, plus the cells that failed. */
export interface MigrationResult {
  /** Candidate rows seen in this call. */
  readonly found: number;
  /** Rows migrated (a row with nothing left to do counts as done). */
  readonly done: number;
  readonly failures: readonly CellFailure[];
}

/** Rows left to migrate in one cell; `remaining` is null when the cell did not answer. */
export interface CellRemaining {
  readonly cell: CellMapping;
  readonly remaining: number | null;
  readonly reason?: string;
}

/**
 * A named online data migration: it moves at most `maxCount` rows per call
 * and says how many it saw and moved; (0, 0) means it has nothing left.
 * Later migrations join the registry beside it.
 */
export interface OnlineMigration {
  readonly name: string;
  run(env: MigrationEnv, maxCount: number): Promise<MigrationResult>;
  /** What is left, per cell, without changing anything. */
  remaining(env: MigrationEnv): Promise<CellRemaining[]>;
}
