import { PostgresDialect, sql, type SqlBool } from 'kysely';
import pg from 'pg';
import { DbTimestamp } from '../timestamp.js';
import type { DatabaseTarget, ServerTarget } from '../url.js';
import {
  errorProperty,
  chunked,
  insertReturningIdVia,
  onConflictDoNothing,
  onConflictDoUpdate,
  type BulkColumn,
  type Engine,
  type PoolOptions,
} from './engine.js';

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;

const ARRAY_TYPE: Readonly<Record<BulkColumn['kind'], string>> = {
  integer: 'int4[]',
  text: 'text[]',
  datetime: 'timestamp[]',
};

/**
 * Nova's DateTime columns are `timestamp without time zone` holding UTC, to
 * the microsecond. node-postgres would read them as local time, into a Date
 * that drops the microseconds; read them as UTC into a DbTimestamp instead.
 */
function getTypeParser(
  oid: number,
  format: 'text' | 'binary' = 'text',
): (value: string) => unknown {
  if (oid === TIMESTAMP_WITHOUT_TIME_ZONE)
    // To the microsecond (a Date would keep milliseconds); infinity and BC dates fall back to a Date.
    return (value) => DbTimestamp.fromText(value) ?? new Date(`${value.replace(' ', 'T')}Z`);
  // node-postgres types the oid as its enum of built-in types; any oid is valid here.
  const builtinParser = pg.types.getTypeParser as (
    oid: number,
    format: 'text' | 'binary',
  ) => (value: string) => unknown;
  return builtinParser(oid, format);
}
const types = { getTypeParser };

/**
 * …and write them as UTC: node-postgres sends a `Date` parameter in local
 * time with an offset, which a `timestamp without time zone` column drops.
 * The setting is process-wide in node-postgres; every PostgreSQL connection
 * of cellgroups wants it.
 */
pg.defaults.parseInputDatesAsUTC = true;

function asServer(target: DatabaseTarget): ServerTarget {
  if (target.engine !== 'postgresql')
    throw new TypeError(`not a PostgreSQL target: ${target.engine}`);
  return target;
}

function poolConfig(
  target: ServerTarget,
  pool: PoolOptions,
  database = target.database,
): pg.PoolConfig {
  const o = target.options;
  const ssl =
    o.sslmode && o.sslmode !== 'disable' && o.sslmode !== 'allow' && o.sslmode !== 'prefer';
  return {
    // `?host=/var/run/postgresql` is libpq's way to name a socket directory.
    host: o.host ?? target.host ?? '127.0.0.1',
    port: target.port ?? 5432,
    user: target.user ?? 'postgres',
    ...(target.password === undefined ? {} : { password: target.password }),
    database,
    max: pool.maxConnections,
    connectionTimeoutMillis: o.connect_timeout
      ? Number(o.connect_timeout) * 1000
      : pool.connectTimeoutMs,
    ...(o.application_name ? { application_name: o.application_name } : {}),
    ...(ssl
      ? { ssl: { rejectUnauthorized: o.sslmode === 'verify-full' || o.sslmode === 'verify-ca' } }
      : {}),
    types,
  };
}

/** Runs one statement against the server's maintenance database. */
async function onMaintenanceDb(
  target: ServerTarget,
  pool: PoolOptions,
  statement: string,
): Promise<void> {
  const client = new pg.Client(poolConfig(target, pool, 'postgres'));
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export const postgresEngine: Engine = {
  name: 'postgresql',
  label: 'PostgreSQL',
  capabilities: { transactionalDdl: true, returning: true, rowLocks: true },

  createDialect(target, pool) {
    const server = asServer(target);
    const connections = new pg.Pool(poolConfig(server, pool));
    // NOTE: when the server drops an idle pooled connection (restart,
    // failover, an administrator), node-postgres emits 'error' on the pool;
    // unheard, that event would crash the process. The pool has already
    // discarded the connection and opens a new one on the next query.
    connections.on('error', () => undefined);
    return new PostgresDialect({ pool: connections });
  },

  addIdColumn: (table) => table.addColumn('id', 'serial', (c) => c.primaryKey()),
  dateTimeType: 'timestamp',
  finishTable: (table) => table,

  lockRows: (query) => query.forUpdate(),
  ignoreDuplicates: (query, columns) => onConflictDoNothing(query, columns) as never,
  upsert: (query, columns, updates) => onConflictDoUpdate(query, columns, updates) as never,
  storableDate: (date) => date,
  insertReturningId: (query) => insertReturningIdVia(query, true),
  idIn: (column, ids) => sql<SqlBool>`${sql.ref(column)} = any(${[...ids]}::int4[])`,
  // NOTE: one array parameter per column, whatever the number of rows:
  // PostgreSQL parses and plans one small statement instead of a VALUES list
  // with a parameter per cell, several times faster for big batches.
  async insertMany(db, table, columns, rows, returning) {
    const out: Record<string, unknown>[] = [];
    for (const part of chunked(rows, 50_000)) {
      const arrays = columns.map(
        (c, i) => sql`${part.map((row) => row[i])}::${sql.raw(ARRAY_TYPE[c.kind])}`,
      );
      const back = returning
        ? sql` returning ${sql.join(returning.map((r) => sql.ref(r)))}`
        : sql``;
      const result = await sql<Record<string, unknown>>`insert into ${sql.table(table)} (${sql.join(
        columns.map((c) => sql.ref(c.name)),
      )}) select * from unnest(${sql.join(arrays)})${back}`.execute(db);
      out.push(...result.rows);
    }
    return out;
  },

  isDuplicateKey: (error) => errorProperty(error, 'code') === '23505',
  isRetryable: (error) => {
    const code = errorProperty(error, 'code');
    return code === '40001' || code === '40P01';
  },
  isLockTimeout: (error) => errorProperty(error, 'code') === '55P03', // lock_not_available

  // SET LOCAL: the bound ends with the transaction, the pooled connection keeps the default.
  boundedTransaction: (db, lockWaitMs, work) =>
    db.transaction().execute(async (tx) => {
      await sql.raw(`set local lock_timeout = ${Math.max(1, Math.ceil(lockWaitMs))}`).execute(tx);
      return work(tx);
    }),

  ensureStorage: () => undefined,
  async createDatabase(target, pool) {
    const server = asServer(target);
    try {
      await onMaintenanceDb(server, pool, `CREATE DATABASE ${quoteIdent(server.database)}`);
    } catch (error) {
      if (errorProperty(error, 'code') !== '42P04') throw error; // duplicate_database
    }
  },
  async dropDatabase(target, pool) {
    const server = asServer(target);
    await onMaintenanceDb(
      server,
      pool,
      `DROP DATABASE IF EXISTS ${quoteIdent(server.database)} WITH (FORCE)`,
    );
  },
};
