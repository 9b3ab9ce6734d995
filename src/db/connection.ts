import {
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Driver,
  type KyselyPlugin,
} from 'kysely';
import { DbError, describeError } from '../errors.js';
import { DbTimestampPlugin } from './timestamp.js';
import { DEFAULT_POOL, engineFor, type Engine, type PoolOptions } from './dialects/index.js';
import { maskPassword, parseDatabaseUrl, type DatabaseTarget } from './url.js';

/**
 * One database: its typed query builder, the engine behind it, and where it
 * is (for messages, with the password masked). Connections open lazily, on
 * the first query.
 */
export interface Database<DB> {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  readonly target: DatabaseTarget;
  /** The connection URL with its password masked: safe to print and log. */
  readonly displayUrl: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly pool?: Partial<PoolOptions>;
  /** Relative SQLite paths resolve against this directory (default: the working directory). */
  readonly baseDir?: string;
  /** Kysely plugins on every query (e.g. to count or trace statements). */
  readonly plugins?: readonly KyselyPlugin[];
}

export function openDatabase<DB>(url: string, options: OpenOptions = {}): Database<DB> {
  const target = parseDatabaseUrl(url, options.baseDir);
  const engine = engineFor(target.engine);
  const pool = { ...DEFAULT_POOL, ...options.pool };
  const db = new Kysely<DB>({
    dialect: engine.createDialect(target, pool),
    plugins: [new DbTimestampPlugin(), ...(options.plugins ?? [])],
  });
  let closed: Promise<void> | undefined;
  return {
    db,
    engine,
    target,
    displayUrl: maskPassword(url),
    close: () => (closed ??= db.destroy()),
  };
}

/** Runs `work` on a database opened for it, and closes the database afterwards. */
export async function withDatabase<DB, T>(
  url: string,
  work: (database: Database<DB>) => Promise<T>,
  options?: OpenOptions,
): Promise<T> {
  const database = openDatabase<DB>(url, options);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}

/**
 * Wraps a driver failure in a `DbError` that names the database, so that a
 * person reading it knows which of many databases is at fault.
 */
export function dbFailure(
  database: Pick<Database<unknown>, 'displayUrl'>,
  doing: string,
  cause: unknown,
): DbError {
  return new DbError(`Could not ${doing} on ${database.displayUrl}: ${describeError(cause)}`, {
    cause,
  });
}

/**
 * A database that cannot be opened (its URL does not parse): every query
 * fails with `error`. A registry may hold one bad cell URL; with this, that
 * cell is reported as failing in fan-outs and migrations instead of taking
 * every other cell down with it.
 */
export function unopenableDatabase<DB>(url: string, error: Error): Database<DB> {
  const driver: Driver = {
    init: () => Promise.resolve(),
    acquireConnection: (): Promise<DatabaseConnection> => Promise.reject(error),
    beginTransaction: () => Promise.reject(error),
    commitTransaction: () => Promise.reject(error),
    rollbackTransaction: () => Promise.reject(error),
    releaseConnection: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  const db = new Kysely<DB>({
    dialect: {
      createDriver: () => driver,
      createAdapter: () => new SqliteAdapter(),
      createQueryCompiler: () => new SqliteQueryCompiler(),
      createIntrospector: (k) => new SqliteIntrospector(k),
    },
  });
  return {
    db,
    engine: engineFor('sqlite'),
    target: { engine: 'sqlite', filename: ':memory:' },
    displayUrl: maskPassword(url),
    close: () => db.destroy(),
  };
}
