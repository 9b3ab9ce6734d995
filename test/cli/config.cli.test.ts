import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { runManage } from '../support/cli.js';
import { serverUrlFor, testEngines } from '../support/engines.js';

describe('manage: configuration and command line', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cgt-cli-'));
  });
  const conf = (text: string) => {
    const file = path.join(dir, 'nova.conf');
    writeFileSync(file, text);
    return file;
  };

  it.each([
    [
      '[quota]\nserver_groups = many\n',
      /nova\.conf:2: \[quota\] server_groups: invalid value "many": expected an integer >= -1\./,
    ],
    [
      '[api]\nauth_strategy = noauth\n',
      /nova\.conf:2: \[api\] auth_strategy: invalid value "noauth": expected one of noauth2, keystone\./,
    ],
    [
      '[database]\nconnection = mssql://sa@h/nova\n',
      /nova\.conf:2: \[database\] connection: Unsupported database URL scheme "mssql"/,
    ],
    ['[database\n', /nova\.conf:1: Invalid section \(must end with \]\)/],
  ])(
    'a bad file %j is exit 1 with file, section and option named, and no stack trace',
    async (text, message) => {
      const result = await runManage(['--config-file', conf(text), 'api_db', 'version'], {
        cwd: dir,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^ERROR: /);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it("runs on Nova's own nova.conf: Nova's sections and options are ignored, named on stderr with debug", async () => {
    // The controller's nova.conf, pointed at a scratch SQLite database instead of its MySQL host.
    const nova = readFileSync(
      path.join(
        path.dirname(fileURLToPath(import.meta.url)),
        '../fixtures/nova-conf/controller.conf',
      ),
      'utf8',
    );
    const local = nova
      .replace(
        /^connection = .*nova_api$/m,
        `connection = sqlite:///${path.join(dir, 'api.sqlite')}`,
      )
      .replace(/^connection = .*nova$/m, `connection = sqlite:///${path.join(dir, 'cell.sqlite')}`);
    const quiet = await runManage(['--config-file', conf(local), 'api_db', 'version'], {
      cwd: dir,
    });
    expect(quiet).toMatchObject({ code: 0, stderr: '' });
    const debug = await runManage(
      ['--config-file', conf(local.replace('debug = false', 'debug = true')), 'api_db', 'version'],
      { cwd: dir },
    );
    expect(debug.code).toBe(0);
    expect(debug.stdout).toBe(quiet.stdout);
    const lines = debug.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `DEBUG: ${path.join(dir, 'nova.conf')}:5: [DEFAULT] host is not an option cellgroups reads; ignored.`,
    );
    expect(lines).toContain(
      `DEBUG: ${path.join(dir, 'nova.conf')}:53: [placement] is not a section cellgroups reads; ignored.`,
    );
    expect(lines.every((l) => l.startsWith('DEBUG: ') && l.endsWith('; ignored.'))).toBe(true);
  });

  it("expands oslo.config's $name references as Nova does, and names one it cannot expand", async () => {
    const state = path.join(dir, 'state');
    const file = conf(
      [
        '[DEFAULT]',
        `state_path = ${state}`,
        '[api_database]',
        'connection = sqlite:///${DEFAULT.state_path}/nova_api.sqlite',
        '[database]',
        'connection = sqlite:///$state_path/nova.sqlite',
        '',
      ].join('\n'),
    );
    for (const command of [
      ['api_db', 'sync'],
      ['db', 'sync'],
    ]) {
      const result = await runManage(['--config-file', file, ...command], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
    }
    expect(readdirSync(state).sort()).toEqual(['nova.sqlite', 'nova_api.sqlite']);
    expect(await runManage(['--config-file', file, 'db', 'version'], { cwd: dir })).toMatchObject({
      code: 0,
      stdout: '3\n',
    });

    const unknown = conf('[database]\nconnection = sqlite:///$pybasedir/nova.sqlite\n');
    const refused = await runManage(['--config-file', unknown, 'db', 'version'], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^ERROR: .*nova\.conf:2: \[database\] connection: \$pybasedir names no option set/,
    );
    expect(readdirSync(dir).sort()).toEqual(['nova.conf', 'state']);
  });

  it('names a config file that does not exist', async () => {
    const result = await runManage(['--config-file', 'nowhere.conf', 'api_db', 'version'], {
      cwd: dir,
    });
    expect(result).toMatchObject({
      code: 1,
      stderr: `ERROR: Config file ${path.join(dir, 'nowhere.conf')} does not exist.\n`,
    });
  });

  it('names a bad environment override', async () => {
    const result = await runManage(['api_db', 'version'], {
      cwd: dir,
      env: { OS_DEFAULT__OSAPI_COMPUTE_WORKERS: 'zero' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /environment variable OS_DEFAULT__OSAPI_COMPUTE_WORKERS: invalid value "zero"/,
    );
  });

  it('later config files win, and the environment wins over them', async () => {
    const a = path.join(dir, 'a.conf');
    const b = path.join(dir, 'b.conf');
    writeFileSync(a, `[DEFAULT]\nstate_path = ${path.join(dir, 'from-a')}\n`);
    writeFileSync(b, `[DEFAULT]\nstate_path = ${path.join(dir, 'from-b')}\n`);
    const fromB = await runManage(['--config-file', a, '--config-file', b, 'api_db', 'sync'], {
      cwd: dir,
    });
    expect(fromB.stdout).toContain(path.join(dir, 'from-b', 'nova_api.sqlite'));
    const fromEnv = await runManage(['--config-file', a, '--config-file', b, 'api_db', 'sync'], {
      cwd: dir,
      env: { OS_DEFAULT__STATE_PATH: path.join(dir, 'from-env') },
    });
    expect(fromEnv.stdout).toContain(path.join(dir, 'from-env', 'nova_api.sqlite'));
  });

  it('with no configuration at all, works on SQLite files under ./data', async () => {
    const result = await runManage(['api_db', 'sync'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`sqlite:///${path.join(dir, 'data', 'nova_api.sqlite')}`);
  });

  const COMMANDS = [
    [],
    ['api_db'],
    ['api_db', 'sync'],
    ['api_db', 'version'],
    ['db'],
    ['db', 'sync'],
    ['db', 'version'],
    ['cell_v2'],
    ['cell_v2', 'map_cell0'],
    ['cell_v2', 'create_cell'],
    ['cell_v2', 'list_cells'],
    ['cell_v2', 'update_cell'],
    ['cell_v2', 'delete_cell'],
    ['cell_v2', 'simple_cell_setup'],
  ];
  it.each(COMMANDS)('--help works on %s %s', async (...command) => {
    const result = await runManage([...command, '--help'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: cellgroups-manage/);
  });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['cell_v2', 'delete_cell'], /required option '--cell_uuid <cell_uuid>' not specified/],
    [['cell_v2', 'list_cells', '--format', 'xml'], /Allowed choices are table, json/],
    [['api_db', 'version', '--bogus'], /unknown option '--bogus'/],
  ])('a usage error %j exits 2 and says what is wrong', async (args, message) => {
    const result = await runManage(args, { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  for (const engine of testEngines().filter((e) => e.serverUrl !== undefined)) {
    it(`a ${engine.label} server that refuses connections is exit 1 naming the database, without a stack trace`, async () => {
      // Port 1 on loopback: nothing listens there.
      const url = serverUrlFor(engine.serverUrl ?? '', 'nova_api').replace(
        /@[^/]+\//,
        '@127.0.0.1:1/',
      );
      const result = await runManage(['api_db', 'version'], {
        cwd: dir,
        env: { OS_API_DATABASE__CONNECTION: url },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^ERROR: Could not read the schema on .*127\.0\.0\.1:1\/nova_api.*: .*ECONNREFUSED/,
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
