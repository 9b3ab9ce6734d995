import type {
  CreateTableBuilder,
  Dialect,
  InsertQueryBuilder,
  InsertResult,
  Kysely,
  RawBuilder,
  SelectQueryBuilder,
  SqlBool,
  Transaction,
} from 'kysely';
import { sql } from 'kysely';
import type { DatabaseTarget, EngineName } from '../url.js';

/** How a pool for one database is sized and how long a connect may take. */
export interface PoolOptions {
  /** Connections kept for this database (SQLite always uses one). */
  readonly maxConnections: number;
  /** Give up connecting after this long, so that a dead server fails fast. */
  readonly connectTimeoutMs: number;
}

export const DEFAULT_POOL: PoolOptions = { maxConnections: 10, connectTimeoutMs: 10_000 };

/**
 * What differs between SQLite, PostgreSQL and MariaDB/MySQL, stated as
 * capabilities and behaviours. Callers ask "can you?", never "are you
 * PostgreSQL?"; no other module names an engine.
 */
export interface Engine {
  readonly name: EngineName;
  /** For people: "SQLite", "PostgreSQL", "MariaDB/MySQL". */
  readonly label: string;
  readonly capabilities: {
    /** DDL runs inside a transaction and rolls back with it. */
    readonly transactionalDdl: boolean;
    /** `INSERT … RETURNING` hands rows back through Kysely. */
    readonly returning: boolean;
    /** `SELECT … FOR UPDATE` locks rows (else one writer holds the whole database). */
    readonly rowLocks: boolean;
  };

  /** A Kysely dialect with its own pool for `target`. */
  createDialect(target: DatabaseTarget, pool: PoolOptions): Dialect;

  /** Nova's integer auto-increment primary key `id`. */
  addIdColumn<TB extends string, C extends string>(
    table: CreateTableBuilder<TB, C>,
  ): CreateTableBuilder<TB, C | 'id'>;
  /** Column type of Nova's `DateTime` columns (naive UTC). */
  readonly dateTimeType: 'datetime' | 'timestamp';
  /** Table options every table gets (storage engine, character set). */
  finishTable<TB extends string, C extends string>(
    table: CreateTableBuilder<TB, C>,
  ): CreateTableBuilder<TB, C>;

  /**
   * Locks the selected rows until the transaction ends (`FOR UPDATE`). On
   * SQLite it returns the query unchanged: every transaction there begins
   * IMMEDIATE and so already holds the one write lock of the database.
   */
  lockRows<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
  ): SelectQueryBuilder<DB, TB, O>;

  /**
   * Makes an insert skip rows that would violate the unique key on
   * `uniqueColumns`, and nothing else (a foreign key violation still fails).
   */
  ignoreDuplicates<DB, TB extends keyof DB>(
    query: InsertQueryBuilder<DB, TB, InsertResult>,
    uniqueColumns: readonly string[],
  ): InsertQueryBuilder<DB, TB, InsertResult>;

  /**
   * Makes an insert update `updates` on the row that already holds its
   * unique key instead (one statement: insert or update). An update may
   * refer to the existing row as `<table>.<column>`.
   */
  upsert<DB, TB extends keyof DB>(
    query: InsertQueryBuilder<DB, TB, InsertResult>,
    uniqueColumns: readonly string[],
    updates: Readonly<Record<string, unknown>>,
  ): InsertQueryBuilder<DB, TB, InsertResult>;

  /**
   * The timestamp a column will hand back for `date`: MariaDB/MySQL
   * `DATETIME` keeps whole seconds (MariaDB truncates, MySQL rounds), so a
   * value meant to be returned without reading it back is cut first.
   */
  storableDate(date: Date): Date;

  /**
   * Inserts many rows in as few statements as the engine allows and returns
   * the `returning` columns of the new rows, or nothing where the engine
   * cannot return rows (MariaDB/MySQL: read them back).
   */
  insertMany(
    db: Kysely<any>,
    table: string,
    columns: readonly BulkColumn[],
    rows: readonly (readonly unknown[])[],
    returning?: readonly string[],
  ): Promise<Record<string, unknown>[]>;

  /**
   * `column IN (ids)` for a long list of integer ids: PostgreSQL takes one
   * array parameter (`= any($1)`) instead of parsing and planning thousands.
   */
  idIn(column: string, ids: readonly number[]): RawBuilder<SqlBool>;

  /** Runs a single-row insert and returns the new row's `id`. */
  insertReturningId<DB, TB extends keyof DB>(
    query: InsertQueryBuilder<DB, TB, InsertResult>,
  ): Promise<number>;

  /** A unique or primary key was violated. */
  isDuplicateKey(error: unknown): boolean;
  /** Deadlock or serialization failure: the whole transaction may be retried. */
  isRetryable(error: unknown): boolean;
  /**
   * A lock wait gave up (PostgreSQL lock_timeout, MariaDB 1205, SQLite BUSY
   * after busy_timeout). Not retryable: waiting again would only double the
   * bound.
   */
  isLockTimeout(error: unknown): boolean;

  /**
   * Runs `work` in a transaction in which no lock wait lasts longer than
   * `lockWaitMs` (rounded up to what the engine can express): a wait that
   * would is ended with the engine's lock-timeout error (`isLockTimeout`)
   * and the transaction rolls back. Other transactions keep the server's
   * own setting.
   */
  boundedTransaction<DB, T>(
    db: Kysely<DB>,
    lockWaitMs: number,
    work: (tx: Transaction<DB>) => Promise<T>,
  ): Promise<T>;

  /**
   * Makes room for a schema sync to create the database: SQLite creates its
   * file on open but not the file's directory. Servers do nothing: their
   * databases are the operator's to create.
   */
  ensureStorage(target: DatabaseTarget): void;

  /** Creates the database `target` names if it is missing (tests; SQLite: its directory). */
  createDatabase(target: DatabaseTarget, pool: PoolOptions): Promise<void>;
  /** Drops the database `target` names, if present. */
  dropDatabase(target: DatabaseTarget, pool: PoolOptions): Promise<void>;
}

/** A column of a bulk insert, and what its values are (engines that bind arrays must say). */
export interface BulkColumn {
  readonly name: string;
  readonly kind: 'integer' | 'text' | 'datetime';
}

// Keeps every multi-row statement well under the smallest bound-parameter
// limit of the three engines (SQLite's 32,766).
const MAX_PARAMETERS = 8_000;

/** Splits `rows` into chunks of at most `size`. */
export function chunked<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Multi-row `INSERT … VALUES`, chunked under the parameter limit: the portable bulk insert. */
export async function insertManyValues(
  db: Kysely<any>,
  table: string,
  columns: readonly BulkColumn[],
  rows: readonly (readonly unknown[])[],
  returning: readonly string[] | undefined,
  canReturn: boolean,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columns.length)));
  for (const part of chunked(rows, size)) {
    const insert = db
      .insertInto(table)
      .values(part.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))));
    if (returning && canReturn) out.push(...(await insert.returning(returning).execute()));
    else await insert.execute();
  }
  return out;
}

/** `column IN (…)`, one parameter per id: the portable form. */
export function idInList(column: string, ids: readonly number[]): RawBuilder<SqlBool> {
  if (ids.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`${sql.ref(column)} in (${sql.join(ids)})`;
}

/** Reads a property of a driver error without trusting its shape. */
export function errorProperty(error: unknown, key: string): unknown {
  let current: unknown = error;
  // Kysely and our own wrappers keep the driver's error as `cause`.
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const value = (current as Record<string, unknown>)[key];
    if (value !== undefined) return value;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `INSERT … RETURNING id` where the engine hands rows back, else the driver's insert id. */
export async function insertReturningIdVia(
  query: InsertQueryBuilder<any, any, InsertResult>,
  returning: boolean,
): Promise<number> {
  if (returning) {
    const row = await query.returning('id').executeTakeFirstOrThrow();
    return Number(row.id);
  }
  const result = await query.executeTakeFirstOrThrow();
  if (result.insertId === undefined) throw new Error('the driver reported no insert id');
  return Number(result.insertId);
}

/** `ON CONFLICT (…) DO NOTHING`, which PostgreSQL and SQLite share. */
export function onConflictDoUpdate(
  query: InsertQueryBuilder<any, any, InsertResult>,
  uniqueColumns: readonly string[],
  updates: Readonly<Record<string, unknown>>,
): InsertQueryBuilder<any, any, InsertResult> {
  return query.onConflict((oc) => oc.columns(uniqueColumns).doUpdateSet(updates));
}

export function onConflictDoNothing(
  query: InsertQueryBuilder<any, any, InsertResult>,
  uniqueColumns: readonly string[],
): InsertQueryBuilder<any, any, InsertResult> {
  return query.onConflict((oc) => oc.columns(uniqueColumns).doNothing());
}
