import { CompiledQuery, MysqlDialect, sql, type DatabaseConnection } from 'kysely';
import {
  createConnection,
  createPool,
  type ConnectionOptions,
  type PoolOptions as Mysql2PoolOptions,
} from 'mysql2';
import { DbTimestamp } from '../timestamp.js';
import type { DatabaseTarget, ServerTarget } from '../url.js';
import {
  errorProperty,
  idInList,
  insertManyValues,
  insertReturningIdVia,
  type Engine,
  type PoolOptions,
} from './engine.js';

const ER_DUP_ENTRY = 1062;
const ER_LOCK_DEADLOCK = 1213; // also how Galera reports a certification conflict
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_DB_CREATE_EXISTS = 1007;

function asServer(target: DatabaseTarget): ServerTarget {
  if (target.engine !== 'mysql') throw new TypeError(`not a MySQL target: ${target.engine}`);
  return target;
}

/**
 * PyMySQL's `charset=utf8` is MySQL's 3-byte utf8; we always speak utf8mb4 on
 * the wire, which reads and writes the same text and more.
 */
function charset(value: string | undefined): string {
  const name = (value ?? 'utf8mb4').toLowerCase();
  return name === 'utf8' || name === 'utf8mb3' ? 'UTF8MB4_GENERAL_CI' : name.toUpperCase();
}

function connectionOptions(target: ServerTarget, pool: PoolOptions): ConnectionOptions {
  const o = target.options;
  const ssl =
    o.ssl_ca || o.ssl_cert || o.ssl_key
      ? {
          ...(o.ssl_ca ? { ca: o.ssl_ca } : {}),
          ...(o.ssl_cert ? { cert: o.ssl_cert } : {}),
          ...(o.ssl_key ? { key: o.ssl_key } : {}),
          rejectUnauthorized: o.ssl_verify_cert !== 'false',
        }
      : undefined;
  return {
    ...(o.unix_socket
      ? { socketPath: o.unix_socket }
      : { host: target.host ?? '127.0.0.1', port: target.port ?? 3306 }),
    user: target.user ?? 'root',
    ...(target.password === undefined ? {} : { password: target.password }),
    charset: charset(o.charset),
    // Nova's DATETIME columns hold naive UTC.
    timezone: 'Z',
    dateStrings: false,
    // Into a DbTimestamp, as on the other engines (a fraction, where a column has one, is kept).
    typeCast: (field, next) => {
      if (field.type !== 'DATETIME') return next();
      const text = field.string();
      return text === null ? null : (DbTimestamp.fromText(text) ?? next());
    },
    supportBigNumbers: true,
    connectTimeout: o.connect_timeout ? Number(o.connect_timeout) * 1000 : pool.connectTimeoutMs,
    ...(ssl ? { ssl } : {}),
  };
}

async function onServer(target: ServerTarget, pool: PoolOptions, statement: string): Promise<void> {
  const connection = createConnection(connectionOptions(target, pool)).promise();
  try {
    await connection.query(statement);
  } finally {
    await connection.end();
  }
}

/**
 * On a Galera node, makes every read of the session wait until the node has
 * applied what the cluster committed before it (`wsrep_sync_wait = 1`, what
 * oslo.db's `mysql_wsrep_sync_wait` sets). Without it a writer on node 2 can
 * miss a group the migration committed on node 1 a moment earlier, and
 * write to a cell copy that was already moved. Other servers are left alone.
 */
async function causalReadsOnGalera(connection: DatabaseConnection): Promise<void> {
  const { rows } = await connection.executeQuery<{ Value?: string }>(
    CompiledQuery.raw("SHOW VARIABLES LIKE 'wsrep_on'"),
  );
  if (rows[0]?.Value === 'ON') {
    await connection.executeQuery(CompiledQuery.raw('SET SESSION wsrep_sync_wait = 1'));
  }
}

const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;

export const mysqlEngine: Engine = {
  name: 'mysql',
  label: 'MariaDB/MySQL',
  // NOTE: MariaDB accepts RETURNING but Kysely's MySQL driver drops the rows,
  // and DDL commits implicitly, so neither capability holds here.
  capabilities: { transactionalDdl: false, returning: false, rowLocks: true },

  createDialect(target, pool) {
    const server = asServer(target);
    const options: Mysql2PoolOptions = {
      ...connectionOptions(server, pool),
      database: server.database,
      connectionLimit: pool.maxConnections,
      maxIdle: pool.maxConnections,
    };
    return new MysqlDialect({ pool: createPool(options), onCreateConnection: causalReadsOnGalera });
  },

  addIdColumn: (table) => table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
  dateTimeType: 'datetime',
  finishTable: (table) => table.modifyEnd(sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`),

  lockRows: (query) => query.forUpdate(),
  // NOTE: not INSERT IGNORE, which would also turn a foreign key violation
  // (a group deleted meanwhile) into a warning and lose the row silently.
  ignoreDuplicates: (query) => query.onDuplicateKeyUpdate({ id: sql`id` } as never),
  upsert: (query, _columns, updates) => query.onDuplicateKeyUpdate(updates as never),
  storableDate: (date) => new Date(Math.floor(date.getTime() / 1000) * 1000),
  insertReturningId: (query) => insertReturningIdVia(query, false),
  idIn: idInList,
  insertMany: (db, table, columns, rows, returning) =>
    insertManyValues(db, table, columns, rows, returning, false),

  isDuplicateKey: (error) => errorProperty(error, 'errno') === ER_DUP_ENTRY,
  isRetryable: (error) => errorProperty(error, 'errno') === ER_LOCK_DEADLOCK,
  isLockTimeout: (error) => errorProperty(error, 'errno') === ER_LOCK_WAIT_TIMEOUT,

  // NOTE: innodb_lock_wait_timeout has no transaction-local form and counts
  // whole seconds (at least 1); it is set on the connection for the
  // transaction and put back to the server's value before the connection
  // returns to the pool.
  boundedTransaction: (db, lockWaitMs, work) =>
    db.connection().execute(async (connection) => {
      const seconds = Math.max(1, Math.ceil(lockWaitMs / 1000));
      await sql.raw(`set session innodb_lock_wait_timeout = ${seconds}`).execute(connection);
      try {
        return await connection.transaction().execute(work);
      } finally {
        await sql
          .raw('set session innodb_lock_wait_timeout = default')
          .execute(connection)
          .catch(() => undefined); // a broken connection is dropped by the pool anyway
      }
    }),

  ensureStorage: () => undefined,
  async createDatabase(target, pool) {
    const server = asServer(target);
    try {
      await onServer(
        server,
        pool,
        `CREATE DATABASE ${quoteIdent(server.database)} CHARACTER SET utf8mb4`,
      );
    } catch (error) {
      if (errorProperty(error, 'errno') !== ER_DB_CREATE_EXISTS) throw error;
    }
  },
  async dropDatabase(target, pool) {
    const server = asServer(target);
    await onServer(server, pool, `DROP DATABASE IF EXISTS ${quoteIdent(server.database)}`);
  },
};
