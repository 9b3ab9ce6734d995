import path from 'node:path';
import { ConfigError } from '../errors.js';

/**
 * Connection URLs in the forms operators already write in nova.conf
 * (SQLAlchemy's `dialect[+driver]://user:password@host:port/database?options`).
 *
 * NOTE: the URL is split with SQLAlchemy's own rules, not WHATWG `URL`: a
 * password may hold an unescaped `#`, `?` or `/` in a nova.conf that works
 * today, and `URL` would read those as a fragment, a query or a path.
 */
export type EngineName = 'sqlite' | 'postgresql' | 'mysql';

export interface SqliteTarget {
  readonly engine: 'sqlite';
  /** Absolute file path, or `:memory:`. */
  readonly filename: string;
}

export interface ServerTarget {
  readonly engine: 'postgresql' | 'mysql';
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly database: string;
  /** Query options, already checked against the engine's accepted list. */
  readonly options: Readonly<Record<string, string>>;
}

export type DatabaseTarget = SqliteTarget | ServerTarget;

const SCHEMES: Readonly<Record<string, { engine: EngineName; drivers: readonly string[] }>> = {
  sqlite: { engine: 'sqlite', drivers: ['pysqlite'] },
  postgresql: { engine: 'postgresql', drivers: ['psycopg2', 'psycopg'] },
  mysql: { engine: 'mysql', drivers: ['pymysql', 'mysqldb'] },
  mariadb: { engine: 'mysql', drivers: ['pymysql', 'mysqldb'] },
};

/** Query options each engine understands; `plugin` is SQLAlchemy's and means nothing here. */
const OPTIONS: Readonly<Record<'postgresql' | 'mysql', readonly string[]>> = {
  postgresql: [
    'host',
    'sslmode',
    'sslrootcert',
    'sslcert',
    'sslkey',
    'connect_timeout',
    'application_name',
  ],
  mysql: [
    'charset',
    'unix_socket',
    'connect_timeout',
    'ssl_ca',
    'ssl_cert',
    'ssl_key',
    'ssl_verify_cert',
    'plugin',
  ],
};

export const ACCEPTED_FORMS = [
  'sqlite:///relative/path.db',
  'sqlite:////absolute/path.db',
  'sqlite:// (in memory)',
  'postgresql://user:password@host:port/database (also postgresql+psycopg2://)',
  'mysql+pymysql://user:password@host:port/database?charset=utf8 (also mysql://)',
].join(', ');

// SQLAlchemy's URL pattern (sqlalchemy/engine/url.py), kept close to the original.
const URL_PATTERN =
  /^(?<scheme>[\w+]+):\/\/(?:(?<user>[^:/]*)(?::(?<password>[^@]*))?@)?(?:(?:\[(?<ipv6>[^/?]+)\]|(?<host>[^/:?]+))?(?::(?<port>[^/?]*))?)?(?:\/(?<database>[^?]*))?(?:\?(?<query>.*))?$/ds;

/**
 * Parses a nova.conf connection URL. Relative SQLite paths resolve against
 * `baseDir` (the working directory, as SQLAlchemy does).
 */
export function parseDatabaseUrl(url: string, baseDir: string = process.cwd()): DatabaseTarget {
  const trimmed = url.trim();
  const match = URL_PATTERN.exec(trimmed);
  const shown = maskPassword(trimmed);
  if (!match?.groups) {
    throw new ConfigError(`Malformed database URL "${shown}": expected one of ${ACCEPTED_FORMS}.`);
  }
  const g = match.groups;
  const [dialect = '', driver] = (g.scheme ?? '').toLowerCase().split('+', 2);
  const scheme = SCHEMES[dialect];
  if (!scheme || (driver !== undefined && !scheme.drivers.includes(driver))) {
    throw new ConfigError(
      `Unsupported database URL scheme "${g.scheme ?? ''}" in "${shown}": expected one of ${ACCEPTED_FORMS}.`,
    );
  }
  const query = parseQuery(g.query, shown);

  if (scheme.engine === 'sqlite') {
    if (g.user !== undefined || g.host !== undefined || g.ipv6 !== undefined || g.port) {
      throw new ConfigError(
        `SQLite URL "${shown}" names a host; write sqlite:///relative.db or sqlite:////absolute.db.`,
      );
    }
    if (Object.keys(query).length > 0) {
      throw new ConfigError(`SQLite URL "${shown}" takes no query options.`);
    }
    const file = decode(g.database ?? '', shown);
    if (file === '' || file === ':memory:') return { engine: 'sqlite', filename: ':memory:' };
    return { engine: 'sqlite', filename: path.resolve(baseDir, file) };
  }

  const engine = scheme.engine;
  const accepted = OPTIONS[engine];
  for (const key of Object.keys(query)) {
    if (!accepted.includes(key)) {
      throw new ConfigError(
        `Unknown option "${key}" in database URL "${shown}": ${engine} accepts ${accepted.join(', ')}.`,
      );
    }
  }
  const database = decode(g.database ?? '', shown);
  if (database === '') {
    throw new ConfigError(`Database URL "${shown}" names no database (…/database at the end).`);
  }
  let port: number | undefined;
  if (g.port !== undefined && g.port !== '') {
    port = Number(g.port);
    if (!/^\d+$/.test(g.port) || port < 1 || port > 65535) {
      throw new ConfigError(`Database URL "${shown}" has an invalid port "${g.port}".`);
    }
  }
  const host = g.ipv6 ?? g.host;
  return {
    engine,
    host: host === undefined ? undefined : decode(host, shown),
    port,
    user: g.user === undefined || g.user === '' ? undefined : decode(g.user, shown),
    password: g.password === undefined ? undefined : decode(g.password, shown),
    database,
    options: query,
  };
}

/** nova-manage's `mask_passwd_in_url`: the password becomes `****`. */
export function maskPassword(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const rest = url.slice(schemeEnd + 3);
  const at = rest.lastIndexOf('@');
  if (at < 0) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return url;
  return `${url.slice(0, schemeEnd + 3)}${userinfo.slice(0, colon)}:****${rest.slice(at)}`;
}

/** The same URL with another database name (nova-manage derives cell0's URL this way). */
export function withDatabaseName(url: string, suffix: string, baseDir?: string): string {
  const target = parseDatabaseUrl(url, baseDir);
  if (target.engine === 'sqlite') {
    if (target.filename === ':memory:') return url;
    const ext = path.extname(target.filename);
    const stem = target.filename.slice(0, target.filename.length - ext.length);
    return `sqlite:///${stem}${suffix}${ext}`;
  }
  const trimmed = url.trim();
  const end = URL_PATTERN.exec(trimmed)?.indices?.groups?.database?.[1];
  if (end === undefined) return trimmed;
  return `${trimmed.slice(0, end)}${encodeURIComponent(suffix)}${trimmed.slice(end)}`;
}

function parseQuery(query: string | undefined, shown: string): Record<string, string> {
  const result: Record<string, string> = {};
  if (query === undefined || query === '') return result;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    // Query strings, unlike user info, spell a space as `+` (parse_qsl).
    const key = decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '), shown);
    const value = decode((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '), shown);
    result[key] = value;
  }
  return result;
}

function decode(part: string, shown: string): string {
  try {
    return decodeURIComponent(part);
  } catch (cause) {
    throw new ConfigError(`Database URL "${shown}" has a malformed %-escape in "${part}".`, {
      cause,
    });
  }
}
