import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeIgnored, environmentName, loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/nova-conf',
);

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
    expect(config.values.api).toEqual({
      max_limit: 50,
      auth_strategy: 'keystone',
      list_records_by_skipping_down_cells: true,
    });
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
      '[keystone_authtoken]\nauth_type = v3password\n',
      /\[keystone_authtoken\] auth_type: invalid value "v3password": expected one of password/,
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

  it("reads a controller's whole nova.conf, taking its options and ignoring Nova's, as oslo.config", () => {
    const nova = path.join(FIXTURES, 'controller.conf');
    const config = loadConfig({ cwd: dir, env: {}, files: [nova] });
    expect(config.apiDatabaseUrl).toBe('mysql+pymysql://nova:NOVA_DBPASS@controller/nova_api');
    expect(config.cellDatabaseUrl).toBe('mysql+pymysql://nova:NOVA_DBPASS@controller/nova');
    expect(config.statePath).toBe('/var/lib/nova');
    expect(config.values.DEFAULT).toMatchObject({
      transport_url: 'rabbit://openstack:RABBIT_PASS@controller:5672/',
      osapi_compute_workers: 4,
      debug: false,
    });
    expect(config.values.api).toEqual({
      auth_strategy: 'keystone',
      list_records_by_skipping_down_cells: true,
      max_limit: 1000,
    });
    expect(config.values.keystone_authtoken).toMatchObject({
      www_authenticate_uri: 'http://controller:5000/',
      auth_url: 'http://controller:5000/',
      username: 'nova',
      password: 'NOVA_PASS',
      project_name: 'service',
    });
    expect(config.values.quota).toMatchObject({
      instances: 20,
      server_groups: 15,
      server_group_members: 8,
    });
    const ignored = config.ignored.map((s) => `${s.section} ${s.name ?? '*'}`);
    // Whole sections cellgroups does not read, once each ...
    expect(ignored).toEqual(
      expect.arrayContaining([
        'service_user *',
        'placement *',
        'glance *',
        'neutron *',
        'vnc *',
        'oslo_concurrency *',
        'scheduler *',
        'oslo_messaging_notifications *',
        'wsgi *',
      ]),
    );
    // ... and each of Nova's options in a section cellgroups shares with it.
    expect(ignored).toEqual(
      expect.arrayContaining([
        'DEFAULT host',
        'DEFAULT my_ip',
        'DEFAULT enabled_apis',
        'api dhcp_domain',
        'api_database max_pool_size',
        'database connection_recycle_time',
        'keystone_authtoken memcached_servers',
        'quota driver',
      ]),
    );
    // Read, to warn when it is True (usage is counted from the cells here).
    expect(ignored).not.toContain('quota count_usage_from_placement');
    expect(config.values.quota.count_usage_from_placement).toBe(false);
    expect(ignored.filter((s) => s.startsWith('placement'))).toEqual(['placement *']);
    expect(describeIgnored(config.ignored[0] ?? { origin: '', section: '' })).toBe(
      `${nova}:5: [DEFAULT] host is not an option cellgroups reads; ignored.`,
    );
    expect(describeIgnored({ origin: `${nova}:44`, section: 'service_user' })).toBe(
      `${nova}:44: [service_user] is not a section cellgroups reads; ignored.`,
    );
  });

  it("ignores a misspelt option name (it cannot be told from one of Nova's), keeping the default", () => {
    const a = file('a.conf', '[api]\nmax_limt = 5\n[quota]\nserver_group = 3\n');
    const config = loadConfig({ cwd: dir, env: {}, files: [a] });
    expect(config.values.api.max_limit).toBe(1000);
    expect(config.values.quota.server_groups).toBe(10);
    expect(config.ignored).toEqual([
      { origin: `${a}:2`, section: 'api', name: 'max_limt' },
      { origin: `${a}:4`, section: 'quota', name: 'server_group' },
    ]);
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

  describe("oslo.config's $name interpolation", () => {
    it('expands $name from the same section, then [DEFAULT]; ${group.name} from another', () => {
      const conf = file(
        'nova.conf',
        [
          '[DEFAULT]',
          'state_path = /var/lib/nova',
          'db_host = 127.0.0.1',
          '[database]',
          'connection = sqlite:///$state_path/nova.sqlite',
          '[api_database]',
          'db_host = 10.0.0.9',
          'password = p$$w',
          'connection = mysql+pymysql://nova:${password}@$db_host/nova_api',
          '[api]',
          'max_limit = ${quota.server_groups}0',
          '[quota]',
          'server_groups = 5',
          '',
        ].join('\n'),
      );
      const config = loadConfig({ cwd: dir, env: {}, files: [conf] });
      expect(config.statePath).toBe('/var/lib/nova');
      expect(config.cellDatabaseUrl).toBe('sqlite:////var/lib/nova/nova.sqlite');
      // [api_database] has its own db_host: it comes before [DEFAULT]'s. `$$` is one dollar sign.
      expect(config.apiDatabaseUrl).toBe('mysql+pymysql://nova:p$w@10.0.0.9/nova_api');
      expect(config.values.api.max_limit).toBe(50);
    });

    it("uses cellgroups' default for an option of its own the files leave out; keeps escaped and lone dollars", () => {
      const conf = file(
        'nova.conf',
        '[database]\nconnection = sqlite:///$state_path/cell\\$1$.sqlite\n',
      );
      const config = loadConfig({ cwd: dir, env: {}, files: [conf] });
      expect(config.cellDatabaseUrl).toBe('sqlite:///data/cell$1$.sqlite');
    });

    it('the environment is expanded too, and a reference may name an environment setting', () => {
      const config = loadConfig({
        cwd: dir,
        env: {
          OS_DEFAULT__STATE_PATH: '/srv/nova',
          OS_DATABASE__CONNECTION: 'sqlite:///$state_path/c.sqlite',
        },
      });
      expect(config.cellDatabaseUrl).toBe('sqlite:////srv/nova/c.sqlite');
    });

    it('a reference to nothing known, or back to itself, is an error naming it', () => {
      const unknown = file('a.conf', '[database]\nconnection = sqlite:///$pybasedir/nova.sqlite\n');
      expect(() => loadConfig({ cwd: dir, env: {}, files: [unknown] })).toThrow(ConfigError);
      expect(() => loadConfig({ cwd: dir, env: {}, files: [unknown] })).toThrow(
        /a\.conf:2: \[database\] connection: \$pybasedir names no option set/,
      );
      const loop = file(
        'b.conf',
        '[DEFAULT]\nstate_path = $other\nother = ${DEFAULT.state_path}\n',
      );
      expect(() => loadConfig({ cwd: dir, env: {}, files: [loop] })).toThrow(
        /b\.conf:3: \[DEFAULT\] other: \$DEFAULT\.state_path refers back to itself \(\[DEFAULT\] state_path → \[DEFAULT\] other → \[DEFAULT\] state_path\)\./,
      );
    });
  });
});
