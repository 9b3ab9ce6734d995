import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { freePorts } from '../galera/ports.js';

/**
 * A real Nova (Debian's python3-nova, 26.x Zed) on loopback, made the way an
 * operator makes one: its own mariadbd (own datadir, socket and port),
 * `nova-manage api_db sync`, `cell_v2 map_cell0`, `db sync`, `cell_v2
 * create_cell`, and Nova's compute API under uwsgi with noauth2. The test
 * files of the `nova` project share it (one file at a time), each working in
 * projects of its own.
 *
 * Every process is started through setpriv with SIGKILL as its parent-death
 * signal, so none outlives the test run even when the runner is killed.
 */

/** What the global setup hands the test files. */
export type NovaDeploymentInfo =
  | {
      readonly available: true;
      readonly dir: string;
      /** Nova's own nova.conf: what `nova-manage` and `cellgroups-manage` both read. */
      readonly configFile: string;
      /** Nova's compute API root, e.g. http://127.0.0.1:PORT (no version). */
      readonly apiUrl: string;
      /** root over TCP, on the `mysql` database of Nova's mariadbd. */
      readonly rootUrl: string;
      readonly dbPort: number;
      readonly novaVersion: string;
    }
  | { readonly available: false; readonly reason: string; readonly required: boolean };

declare module 'vitest' {
  export interface ProvidedContext {
    nova: NovaDeploymentInfo;
  }
}

/** Debian's interpreter: a pyenv python3 earlier in PATH has no nova. */
export const PYTHON = '/usr/bin/python3';
const UWSGI = '/usr/bin/uwsgi-core';
const UWSGI_PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';
const PACKAGES = 'python3-nova python3-pymysql uwsgi-core uwsgi-plugin-python3 mariadb-server';

/** The databases Nova's deployment has, as nova.conf and create_cell name them. */
export const NOVA_DATABASES = ['nova_api', 'nova', 'nova_cell0'] as const;
export type NovaDatabase = (typeof NOVA_DATABASES)[number];

/** Whether the run must have a Nova (CI): then a missing one fails it. */
export function novaRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = (env.CELLGROUPS_REQUIRE_NOVA ?? '').trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(flag)) return true;
  return (env.CELLGROUPS_REQUIRE_ENGINES ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes('all');
}

function which(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** What is missing to run Nova here, or undefined when everything is installed. */
export function novaMissing(): string | undefined {
  const files = [
    PYTHON,
    UWSGI,
    UWSGI_PLUGIN,
    '/usr/lib/python3/dist-packages/nova/cmd/manage.py',
    '/usr/lib/python3/dist-packages/pymysql/__init__.py',
  ];
  const programs = ['mariadbd', 'mariadb-install-db', 'setpriv'];
  const missing = [
    ...files.filter((f) => !existsSync(f)),
    ...programs.filter((p) => which(p) === undefined),
  ];
  return missing.length === 0
    ? undefined
    : `${missing.join(', ')} not installed (apt-get install ${PACKAGES})`;
}

const isRoot = () => process.getuid?.() === 0;

function mysqlIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('mysql:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error('there is no mysql user');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Only what Nova needs: the caller's OS_* variables and Python paths stay out. */
export function novaEnv(etc: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    OS_NOVA_CONFIG_DIR: etc,
  };
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeout = 180_000,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 255) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(what: string, result: Promise<Run>): Promise<Run> {
  const done = await result;
  if (done.code !== 0) {
    throw new Error(`${what} exited ${done.code}: ${(done.stderr || done.stdout).slice(-3000)}`);
  }
  return done;
}

/** A setpriv command line: as `mysql` if asked (and we are root), dying with its parent. */
function guarded(command: readonly string[], asMysql: boolean): string[] {
  const setpriv = which('setpriv') ?? 'setpriv';
  const user = asMysql && isRoot() ? ['--reuid=mysql', '--regid=mysql', '--init-groups'] : [];
  return [setpriv, ...user, '--pdeathsig=KILL', '--', ...command];
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function novaConf(dir: string, dbPort: number): string {
  const url = (name: NovaDatabase) =>
    `mysql+pymysql://nova:nova@127.0.0.1:${dbPort}/${name}?charset=utf8`;
  return `# Written by the cellgroups test harness: a minimal Nova API, noauth2, no message queue.
[DEFAULT]
host = nova-test
state_path = ${path.join(dir, 'state')}
log_file = ${path.join(dir, 'log', 'nova.log')}
debug = false
# oslo.messaging's in-process fake driver: nothing to connect to; os-server-groups never uses RPC.
transport_url = fake://

[api]
auth_strategy = noauth2

[api_database]
connection = ${url('nova_api')}

[database]
connection = ${url('nova')}

[oslo_messaging_notifications]
driver = noop

[oslo_concurrency]
lock_path = ${path.join(dir, 'state', 'lock')}

[oslo_policy]
# Zed's defaults spelled out: the deprecated rules still apply, which lets noauth2 tokens through.
enforce_scope = false
enforce_new_defaults = false

[quota]
count_usage_from_placement = false
`;
}

/** The compute API pipelines of Debian's api-paste.ini, noauth2 only. */
const API_PASTE = `[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: oscomputeversions
/v2.1: oscomputeversion_v2
/v2.1/+: openstack_compute_api_v21

[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
noauth2 = compute_req_id faultwrap request_log sizelimit noauth2 osapi_compute_app_v21

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory

[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory

[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory

[filter:noauth2]
paste.filter_factory = nova.api.openstack.auth:NoAuthMiddleware.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory

[pipeline:oscomputeversions]
pipeline = faultwrap request_log oscomputeversionapp

[pipeline:oscomputeversion_v2]
pipeline = compute_req_id faultwrap request_log oscomputeversionapp_v2

[app:oscomputeversionapp]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory

[app:oscomputeversionapp_v2]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory
`;

/** Console scripts (Debian's nova-common ships them, but needs debconf): the same entry points. */
function consoleScript(module: string): string {
  return `#!${PYTHON}
import sys
from ${module} import main
sys.exit(main())
`;
}

/**
 * Registers a nova-compute service row (no compute runs): Nova refuses
 * max_server_per_host > 1 while the oldest compute is older than service
 * version 33, and "no compute at all" counts as version 0.
 */
function fakeComputeScript(configFile: string): string {
  return `#!${PYTHON}
import sys
from nova import config, context, objects
objects.register_all()
config.parse_args(['fake-compute', '--config-file', '${configFile}'])
ctxt = context.get_admin_context()
if not objects.Service.get_by_host_and_binary(ctxt, 'fake-compute', 'nova-compute'):
    objects.Service(ctxt, host='fake-compute', binary='nova-compute', topic='compute',
                    report_count=0).create()
`;
}

function uwsgiIni(dir: string, port: number): string {
  const etc = path.join(dir, 'etc');
  return `[uwsgi]
plugins-dir = ${path.dirname(UWSGI_PLUGIN)}
plugins = python3
wsgi-file = ${path.join(etc, 'nova-api-wsgi.py')}
http11-socket = 127.0.0.1:${port}
processes = 1
master = false
need-app = true
buffer-size = 65535
# One worker serves one connection at a time: an idle keep-alive connection would hold it.
add-header = Connection: close
chdir = ${path.join(dir, 'state')}
env = OS_NOVA_CONFIG_DIR=${etc}
logto = ${path.join(dir, 'log', 'uwsgi.log')}
disable-logging = true
`;
}

export class NovaDeployment {
  private readonly children: ChildProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly dbPort: number,
    readonly apiPort: number,
  ) {}

  get etc(): string {
    return path.join(this.dir, 'etc');
  }

  get configFile(): string {
    return path.join(this.etc, 'nova.conf');
  }

  get rootUrl(): string {
    return `mysql+pymysql://root@127.0.0.1:${this.dbPort}/mysql?charset=utf8`;
  }

  /** `nova-manage` with this deployment's nova.conf. */
  manage(args: readonly string[]): Promise<Run> {
    return run(
      path.join(this.dir, 'bin', 'nova-manage'),
      ['--config-file', this.configFile, ...args],
      novaEnv(this.etc),
    );
  }

  static async start(): Promise<NovaDeployment> {
    const dir = mkdtempSync(path.join(tmpdir(), 'cellgroups-nova-'));
    const [dbPort = 0, apiPort = 0] = await freePorts(2);
    const nova = new NovaDeployment(dir, dbPort, apiPort);
    try {
      nova.writeFiles();
      await nova.startMariadb();
      await nova.sync();
      await nova.startApi();
      return nova;
    } catch (error) {
      nova.stop();
      throw error;
    }
  }

  private writeFiles(): void {
    for (const sub of ['etc', 'bin', 'log', 'run', 'state/lock', 'mysql']) {
      mkdirSync(path.join(this.dir, sub), { recursive: true });
    }
    const file = (rel: string, text: string, mode = 0o644) => {
      writeFileSync(path.join(this.dir, rel), text, { mode });
    };
    file('etc/nova.conf', novaConf(this.dir, this.dbPort));
    file('etc/api-paste.ini', API_PASTE);
    file(
      'etc/nova-api-wsgi.py',
      'from nova.api.openstack.compute.wsgi import init_application\napplication = init_application()\n',
    );
    file('etc/uwsgi.ini', uwsgiIni(this.dir, this.apiPort));
    file('bin/nova-manage', consoleScript('nova.cmd.manage'), 0o755);
    file('bin/nova-status', consoleScript('nova.cmd.status'), 0o755);
    file('bin/fake-compute', fakeComputeScript(this.configFile), 0o755);
    if (isRoot()) {
      // mkdtemp makes the base 0700: the mysql user must get through it to its datadir.
      const { uid, gid } = mysqlIds();
      for (const sub of ['', 'mysql', 'run', 'log']) chownSync(path.join(this.dir, sub), uid, gid);
    }
  }

  private async startMariadb(): Promise<void> {
    const datadir = path.join(this.dir, 'mysql');
    const errorLog = path.join(this.dir, 'log', 'mariadbd.err');
    await must(
      'mariadb-install-db',
      run(
        which('mariadb-install-db') ?? 'mariadb-install-db',
        [
          '--no-defaults',
          ...(isRoot() ? ['--user=mysql'] : []),
          `--datadir=${datadir}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
        ],
        novaEnv(this.etc),
      ),
    );
    const [command, ...args] = guarded(
      [
        which('mariadbd') ?? 'mariadbd',
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${path.join(this.dir, 'run', 'mysqld.sock')}`,
        `--port=${this.dbPort}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        `--log-error=${errorLog}`,
        `--pid-file=${path.join(this.dir, 'run', 'mariadbd.pid')}`,
        '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci',
        '--innodb-buffer-pool-size=64M',
        '--innodb-log-file-size=16M',
        '--max-connections=500',
      ],
      true,
    );
    const child = spawn(command ?? 'setpriv', args, { stdio: 'ignore' });
    this.children.push(child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const conn = await createConnection({ host: '127.0.0.1', port: this.dbPort, user: 'root' });
        for (const name of NOVA_DATABASES) {
          await conn.query(`CREATE DATABASE ${name} CHARACTER SET utf8`);
        }
        for (const host of ['localhost', '127.0.0.1']) {
          await conn.query(`CREATE USER 'nova'@'${host}' IDENTIFIED BY 'nova'`);
          // Nova's own grants: everything on its databases, nothing else.
          for (const name of NOVA_DATABASES) {
            await conn.query(`GRANT ALL PRIVILEGES ON ${name}.* TO 'nova'@'${host}'`);
          }
        }
        await conn.end();
        return;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`Nova's mariadbd did not come up (${String(error)}):\n${tail(errorLog)}`);
        }
        await sleep(250);
      }
    }
  }

  private async sync(): Promise<void> {
    const cellUrl = (name: NovaDatabase) =>
      `mysql+pymysql://nova:nova@127.0.0.1:${this.dbPort}/${name}?charset=utf8`;
    await must('nova-manage api_db sync', this.manage(['api_db', 'sync']));
    await must(
      'nova-manage cell_v2 map_cell0',
      this.manage(['cell_v2', 'map_cell0', '--database_connection', cellUrl('nova_cell0')]),
    );
    await must('nova-manage db sync', this.manage(['db', 'sync']));
    await must(
      'nova-manage cell_v2 create_cell',
      this.manage([
        'cell_v2',
        'create_cell',
        '--name',
        'cell1',
        '--transport-url',
        'fake://',
        '--database_connection',
        cellUrl('nova'),
      ]),
    );
    await must(
      'fake compute registration',
      run(path.join(this.dir, 'bin', 'fake-compute'), [], novaEnv(this.etc)),
    );
  }

  private async startApi(): Promise<void> {
    const [command, ...args] = guarded([UWSGI, '--ini', path.join(this.etc, 'uwsgi.ini')], false);
    const child = spawn(command ?? 'setpriv', args, {
      stdio: 'ignore',
      env: novaEnv(this.etc),
    });
    this.children.push(child);
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        const response = await fetch(`http://127.0.0.1:${this.apiPort}/v2.1/os-server-groups`, {
          headers: { 'X-Auth-Token': 'admin:admin' },
        });
        if (response.status === 200) return;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = String(error);
      }
      await sleep(250);
    }
    throw new Error(
      `Nova's API did not answer (${last}):\n${tail(path.join(this.dir, 'log', 'uwsgi.log'))}\n${tail(path.join(this.dir, 'log', 'nova.log'))}`,
    );
  }

  async novaVersion(): Promise<string> {
    const done = await run(
      PYTHON,
      ['-c', 'import pbr.version; print(pbr.version.VersionInfo("nova").release_string())'],
      novaEnv(this.etc),
    );
    return done.stdout.trim() || 'unknown';
  }

  stop(): void {
    for (const child of this.children.splice(0).reverse()) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
