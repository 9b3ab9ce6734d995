import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
  sql,
} from 'kysely';
import { ConfigError } from '../../errors.js';
import { DbTimestamp } from '../timestamp.js';
import type { DatabaseTarget, SqliteTarget } from '../url.js';
import {
  errorProperty,
  idInList,
  insertManyValues,
  insertReturningIdVia,
  onConflictDoNothing,
  onConflictDoUpdate,
  type Engine,
} from './engine.js';

/**
 * SQLite stores Nova's DateTime columns as text in SQLAlchemy's format
 * (`YYYY-MM-DD HH:MM:SS.ffffff`, naive UTC) and booleans as 0/1, and the
 * driver binds neither `Date` nor `boolean`. The statement wrapper below
 * converts parameters on the way in and `*_at` columns on the way out
 * (into a DbTimestamp, microseconds kept), so that every store sees the same
 * types on every engine.
 */
function toSqlParameter(value: unknown): unknown {
  if (value instanceof Date) {
    const iso = value.toISOString(); // 2026-11-25T09:02:32.123Z
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

const DATETIME_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$/;

function fromSqlRow(row: unknown): unknown {
  if (typeof row !== 'object' || row === null) return row;
  const record = row as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (key.endsWith('_at') && typeof value === 'string' && DATETIME_TEXT.test(value)) {
      // To the microsecond, as SQLAlchemy wrote it (a Date would keep milliseconds).
      record[key] = DbTimestamp.fromText(value) ?? value;
    }
  }
  return record;
}

function wrapStatement(statement: BetterSqlite3.Statement): SqliteStatement {
  return {
    reader: statement.reader,
    all: (parameters) => statement.all(...parameters.map(toSqlParameter)).map(fromSqlRow),
    run: (parameters) => statement.run(...parameters.map(toSqlParameter)),
    iterate: function* (parameters) {
      for (const row of statement.iterate(...parameters.map(toSqlParameter))) yield fromSqlRow(row);
    },
  };
}

/**
 * WAL lets readers in other processes go on while one process writes.
 * NOTE: switching a new file to WAL needs an exclusive lock, and when two
 * processes open the file at once SQLite answers BUSY without waiting (to
 * avoid a lock-upgrade deadlock); so this one step retries until the busy
 * timeout. The open is synchronous, hence the synchronous sleep.
 */
function enableWal(database: BetterSqlite3.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      database.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if (!sqliteEngine.isLockTimeout(error) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function openSqlite(target: SqliteTarget, busyTimeoutMs: number): SqliteDatabase {
  let database: BetterSqlite3.Database;
  try {
    database = new BetterSqlite3(target.filename);
  } catch (cause) {
    throw new ConfigError(
      `Cannot open SQLite database ${target.filename}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  // A second writer waits for the lock instead of failing.
  database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  if (target.filename !== ':memory:') enableWal(database, busyTimeoutMs);
  database.pragma('foreign_keys = ON');
  database.pragma('synchronous = NORMAL');
  return {
    close: () => {
      database.close();
    },
    prepare: (sql) => wrapStatement(database.prepare(sql)),
  };
}

/**
 * Every transaction begins IMMEDIATE: it takes SQLite's single write lock at
 * BEGIN (waiting up to busy_timeout), so two processes serialize. A deferred
 * BEGIN would read first and fail, or see a stale snapshot, when it later
 * tries to write after another process did.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite has transactional DDL (Kysely's adapter says otherwise), so schema
 * steps run in the migrator's transaction and a crash leaves no half step.
 * The IMMEDIATE transaction is itself the migration lock.
 */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class CellgroupsSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }
}

function asSqlite(target: DatabaseTarget): SqliteTarget {
  if (target.engine !== 'sqlite') throw new TypeError(`not a SQLite target: ${target.engine}`);
  return target;
}

export const sqliteEngine: Engine = {
  name: 'sqlite',
  label: 'SQLite',
  capabilities: { transactionalDdl: true, returning: true, rowLocks: false },

  createDialect(target, pool) {
    const sqlite = asSqlite(target);
    // NOTE: opened lazily, on the first query, so that building a handle
    // never touches the disk (and a bad path is reported where it is used).
    return new CellgroupsSqliteDialect({
      database: () => Promise.resolve(openSqlite(sqlite, pool.connectTimeoutMs)),
    });
  },

  addIdColumn: (table) => table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
  dateTimeType: 'datetime',
  finishTable: (table) => table,

  lockRows: (query) => query,
  ignoreDuplicates: (query, columns) => onConflictDoNothing(query, columns) as never,
  upsert: (query, columns, updates) => onConflictDoUpdate(query, columns, updates) as never,
  storableDate: (date) => date,
  insertReturningId: (query) => insertReturningIdVia(query, true),
  idIn: idInList,
  insertMany: (db, table, columns, rows, returning) =>
    insertManyValues(db, table, columns, rows, returning, true),

  isDuplicateKey: (error) => {
    const code = errorProperty(error, 'code');
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
  // NOTE: every transaction begins IMMEDIATE, so SQLite never deadlocks: BUSY
  // only ever means the write lock stayed taken for the whole busy_timeout.
  isRetryable: () => false,
  isLockTimeout: (error) => {
    const code = errorProperty(error, 'code');
    return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
  },

  // The one write lock of the file is taken at BEGIN, waiting busy_timeout:
  // shortened for this transaction on the (single) connection, then put back.
  boundedTransaction: (db, lockWaitMs, work) =>
    db.connection().execute(async (connection) => {
      const before = await sql<{ timeout: number }>`pragma busy_timeout`.execute(connection);
      const restore = before.rows[0]?.timeout ?? 0;
      await sql
        .raw(`pragma busy_timeout = ${Math.max(1, Math.ceil(lockWaitMs))}`)
        .execute(connection);
      try {
        return await connection.transaction().execute(work);
      } finally {
        await sql.raw(`pragma busy_timeout = ${restore}`).execute(connection);
      }
    }),

  ensureStorage(target) {
    const { filename } = asSqlite(target);
    if (filename !== ':memory:') mkdirSync(path.dirname(filename), { recursive: true });
  },
  createDatabase(target) {
    sqliteEngine.ensureStorage(target);
    return Promise.resolve();
  },
  dropDatabase(target) {
    const { filename } = asSqlite(target);
    if (filename !== ':memory:') {
      for (const suffix of ['', '-wal', '-shm', '-journal'])
        rmSync(filename + suffix, { force: true });
    }
    return Promise.resolve();
  },
};
