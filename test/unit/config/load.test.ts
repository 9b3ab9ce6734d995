import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { environmentName, loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

let dir: string;
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cg-config-'));
});

describe('loadConfig', () => {
  it('with no configuration at all, puts SQLite files under ./data', () => {
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config.statePath).toBe(path.join(dir, 'data'));
    expect(config.apiDatabaseUrl).toBe(`sqlite:///${path.join(dir, 'data', 'nova_api.sqlite')}`);
    expect(config.cellDatabaseUrl).toBe(`sqlite:///${path.join(dir, 'data', 'nova.sqlite')}`);
    expect(config.values.DEFAULT.osapi_compute_listen_port).toBe(8774);
    expect(config.values.DEFAULT.osapi_compute_workers).toBe(1);
    expect(config.values.api.max_limit).toBe(1000);
    expect(config.values.quota).toMatchObject({
      server_groups: 10,
      server_group_members: 10,
      cores: 20,
    });
    expect(config.values.cellgroups).toEqual({
      cell_timeout: 10,
      cell_concurrency: 16,
      lock_wait_timeout: 3,
    });
  });

  it("reads Nova's option names, and later files win", () => {
    const a = file(
      'a.conf',
      '[DEFAULT]\nosapi_compute_listen_port = 9000\nosapi_compute_workers = 4\n[quota]\nserver_groups = 5\n',
    );
    const b = file(
      'b.conf',
      '[quota]\nserver_groups = -1\nserver_group_members = 7\n[api]\nmax_limit = 50\nauth_strategy = keystone\n' +
        '[api_database]\nconnection = postgresql://nova:s;e#c@127.0.0.1/nova_api\n' +
        '[database]\nconnection = mysql+pymysql://nova:x@127.0.0.1/nova?charset=utf8\n',
    );
    const config = loadConfig({ cwd: dir, env: {}, files: [a, b] });
    expect(config.values.DEFAULT.osapi_compute_listen_port).toBe(9000);
    expect(config.values.DEFAULT.osapi_compute_workers).toBe(4);
    expect(config.values.quota).toMatchObject({
      server_groups: -1,
      server_group_members: 7,
      cores: 20,
    });
    expect(config.values.api).toEqual({ max_limit: 50, auth_strategy: 'keystone' });
    expect(config.apiDatabaseUrl).toBe('postgresql://nova:s;e#c@127.0.0.1/nova_api');
    expect(config.cellDatabaseUrl).toBe('mysql+pymysql://nova:x@127.0.0.1/nova?charset=utf8');
    expect(config.files).toEqual([a, b]);
  });

  it('lets a repeated key end with its last value', () => {
    const a = file('a.conf', '[quota]\nserver_groups = 3\nserver_groups = 4\n');
    expect(loadConfig({ cwd: dir, env: {}, files: [a] }).values.quota.server_groups).toBe(4);
  });

  it('takes OS_<SECTION>__<OPTION> from the environment over files, as oslo.config', () => {
    expect(environmentName('api_database', 'connection')).toBe('OS_API_DATABASE__CONNECTION');
    const a = file('a.conf', '[quota]\nserver_groups = 3\n');
    const config = loadConfig({
      cwd: dir,
      files: [a],
      env: {
        OS_QUOTA__SERVER_GROUPS: '12',
        OS_DEFAULT__STATE_PATH: '/var/lib/cellgroups',
        OS_PLACEMENT_DATABASE__CONNECTION: 'ignored: another service',
      },
    });
    expect(config.values.quota.server_groups).toBe(12);
    expect(config.statePath).toBe('/var/lib/cellgroups');
  });

  it.each([
    [
      '[quota]\nserver_groups = ten\n',
      /bad.conf:2: \[quota\] server_groups: invalid value "ten": expected an integer >= -1/,
    ],
    ['[quota]\nserver_groups = -2\n', /\[quota\] server_groups: invalid value "-2"/],
    [
      '[DEFAULT]\nosapi_compute_listen_port = 70000\n',
      /osapi_compute_listen_port: invalid value "70000": expected an integer from 0 to 65535/,
    ],
    [
      '[cellgroups]\ncell_timeout = 0\n',
      /\[cellgroups\] cell_timeout: invalid value "0": expected a number of seconds > 0/,
    ],
    [
      '[DEFAULT]\ndebug = maybe\n',
      /\[DEFAULT\] debug: invalid value "maybe": expected true or false/,
    ],
    [
      '[api]\nauth_strategy = noauth\n',
      /\[api\] auth_strategy: invalid value "noauth": expected one of noauth2, keystone/,
    ],
    [
      '[api]\nmax_limt = 5\n',
      /bad.conf:2: \[api\] max_limt: unknown option; \[api\] has auth_strategy, max_limit/,
    ],
    [
      '[cells]\nenable = true\n',
      /bad.conf:1: unknown section \[cells\]; known sections: \[DEFAULT\]/,
    ],
    [
      '[database]\nconnection = oracle://x@h/db\n',
      /bad.conf:2: \[database\] connection: Unsupported database URL scheme "oracle"/,
    ],
    [
      '[database]\nconnection = sqlite:///same.db\n[api_database]\nconnection = sqlite:///same.db\n',
      /must be separate databases/,
    ],
  ])('rejects %j naming file, section and option', (text, message) => {
    const bad = file('bad.conf', text);
    expect(() => loadConfig({ cwd: dir, env: {}, files: [bad] })).toThrow(ConfigError);
    expect(() => loadConfig({ cwd: dir, env: {}, files: [bad] })).toThrow(message);
  });

  it('names the environment variable holding a bad value', () => {
    expect(() => loadConfig({ cwd: dir, env: { OS_QUOTA__SERVER_GROUP_MEMBERS: 'lots' } })).toThrow(
      /environment variable OS_QUOTA__SERVER_GROUP_MEMBERS: invalid value "lots"/,
    );
  });

  it('names a config file that does not exist', () => {
    expect(() => loadConfig({ cwd: dir, env: {}, files: ['missing.conf'] })).toThrow(
      `Config file ${path.join(dir, 'missing.conf')} does not exist.`,
    );
  });
});
