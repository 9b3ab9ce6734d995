import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { maskPassword, parseDatabaseUrl, withDatabaseName } from '../../../src/db/url.js';
import { ConfigError } from '../../../src/errors.js';

describe('parseDatabaseUrl: the forms of nova.conf', () => {
  it('reads a relative SQLite path against the base directory', () => {
    expect(parseDatabaseUrl('sqlite:///relative.db', '/srv/nova')).toEqual({
      engine: 'sqlite',
      filename: '/srv/nova/relative.db',
    });
  });

  it('reads an absolute SQLite path (four slashes)', () => {
    expect(parseDatabaseUrl('sqlite:////var/lib/nova/nova.sqlite', '/elsewhere')).toEqual({
      engine: 'sqlite',
      filename: '/var/lib/nova/nova.sqlite',
    });
  });

  it.each(['sqlite://', 'sqlite:///:memory:'])('reads %s as an in-memory database', (url) => {
    expect(parseDatabaseUrl(url)).toEqual({ engine: 'sqlite', filename: ':memory:' });
  });

  it.each(['postgresql', 'postgresql+psycopg2', 'postgresql+psycopg'])('reads %s://', (scheme) => {
    expect(parseDatabaseUrl(`${scheme}://nova:secret@db.example:5433/nova_api`)).toEqual({
      engine: 'postgresql',
      host: 'db.example',
      port: 5433,
      user: 'nova',
      password: 'secret',
      database: 'nova_api',
      options: {},
    });
  });

  it('reads mysql+pymysql with charset and mysql:// alike', () => {
    const a = parseDatabaseUrl('mysql+pymysql://root:pw@127.0.0.1/nova?charset=utf8');
    const b = parseDatabaseUrl('mysql://root:pw@127.0.0.1/nova?charset=utf8');
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      engine: 'mysql',
      host: '127.0.0.1',
      port: undefined,
      database: 'nova',
      options: { charset: 'utf8' },
    });
  });

  it('decodes URL-encoded user, password and database', () => {
    expect(parseDatabaseUrl('postgresql://us%40er:p%40ss%2Fw%3Ard@h/db%2D1')).toMatchObject({
      user: 'us@er',
      password: 'p@ss/w:rd',
      database: 'db-1',
    });
  });

  it('keeps a + in a password (SQLAlchemy unquotes user info without plus-as-space)', () => {
    expect(parseDatabaseUrl('mysql://u:a+b@h/db')).toMatchObject({ password: 'a+b' });
  });

  it('keeps unescaped # and ? in a password, as SQLAlchemy does', () => {
    expect(
      parseDatabaseUrl('mysql+pymysql://nova:se#cr?et@h:3306/nova?charset=utf8'),
    ).toMatchObject({
      password: 'se#cr?et',
      port: 3306,
      database: 'nova',
      options: { charset: 'utf8' },
    });
  });

  it('reads an IPv6 host in brackets', () => {
    expect(parseDatabaseUrl('postgresql://u@[::1]:5432/db')).toMatchObject({
      host: '::1',
      port: 5432,
    });
  });

  it('reads a socket directory and a unix socket from the query', () => {
    expect(parseDatabaseUrl('postgresql://nova@/nova?host=/var/run/postgresql')).toMatchObject({
      host: undefined,
      options: { host: '/var/run/postgresql' },
    });
    expect(
      parseDatabaseUrl('mysql+pymysql://nova@/nova?unix_socket=/run/mysqld/mysqld.sock'),
    ).toMatchObject({
      options: { unix_socket: '/run/mysqld/mysqld.sock' },
    });
  });
});

describe('parseDatabaseUrl: bad URLs are errors that name the accepted forms', () => {
  const cases: [string, RegExp][] = [
    [
      'oracle://u:p@h/db',
      /Unsupported database URL scheme "oracle".*sqlite:\/\/\/relative.*postgresql:\/\/.*mysql\+pymysql:\/\//,
    ],
    ['postgresql+asyncpg://u@h/db', /Unsupported database URL scheme "postgresql\+asyncpg"/],
    ['not a url', /Malformed database URL "not a url": expected one of/],
    ['', /Malformed database URL/],
    ['postgresql://u@h:99999/db', /invalid port "99999"/],
    ['postgresql://u@h:port/db', /invalid port "port"/],
    ['mysql://u@h/', /names no database/],
    ['mysql://u@h/db?charset=utf8&bogus=1', /Unknown option "bogus".*mysql accepts charset/],
    ['postgresql://u@h/db?charset=utf8', /Unknown option "charset".*postgresql accepts/],
    ['sqlite://host/file.db', /SQLite URL .* names a host/],
    ['sqlite:///file.db?mode=ro', /SQLite URL .* takes no query options/],
    ['postgresql://u:p%zz@h/db', /malformed %-escape/],
  ];
  it.each(cases)('%s', (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(ConfigError);
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });

  it('never shows the password in the error', () => {
    expect(() => parseDatabaseUrl('oracle://u:topsecret@h/db')).toThrow(
      /oracle:\/\/u:\*\*\*\*@h\/db/,
    );
    expect(() => parseDatabaseUrl('oracle://u:topsecret@h/db')).not.toThrow(/topsecret/);
  });
});

describe('maskPassword (nova-manage mask_passwd_in_url)', () => {
  it.each([
    ['mysql+pymysql://root:secret@127.0.0.1/nova', 'mysql+pymysql://root:****@127.0.0.1/nova'],
    ['rabbit://guest:guest@mq:5672/', 'rabbit://guest:****@mq:5672/'],
    ['postgresql://nova@h/db', 'postgresql://nova@h/db'],
    ['sqlite:////var/lib/nova.sqlite', 'sqlite:////var/lib/nova.sqlite'],
    ['none:///', 'none:///'],
  ])('%s', (url, masked) => {
    expect(maskPassword(url)).toBe(masked);
  });
});

describe('withDatabaseName (cell0 from the cell URL)', () => {
  it('adds the suffix to a server database name, keeping credentials and options', () => {
    expect(withDatabaseName('mysql+pymysql://root:p%40ss@h:3306/nova?charset=utf8', '_cell0')).toBe(
      'mysql+pymysql://root:p%40ss@h:3306/nova_cell0?charset=utf8',
    );
    expect(withDatabaseName('postgresql://u@h/nova', '_cell0')).toBe('postgresql://u@h/nova_cell0');
  });

  it('puts the suffix before a SQLite file extension', () => {
    expect(withDatabaseName('sqlite:///data/nova.sqlite', '_cell0', '/srv')).toBe(
      `sqlite:///${path.join('/srv', 'data', 'nova_cell0.sqlite')}`,
    );
  });
});
