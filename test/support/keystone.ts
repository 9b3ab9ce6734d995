import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { closeSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { inject } from 'vitest';

/**
 * A real Keystone (Debian's python3-keystone) on loopback, for the tests of
 * the `keystone` auth strategy and of openstackclient.
 *
 * Preparing one (db_sync, fernet keys, bootstrap, users) takes about ten
 * seconds; starting uwsgi on a prepared directory takes about two. So the
 * global setup prepares a template directory once per run, and each test
 * file starts its own Keystone on a copy of it: a file may stop its Keystone
 * mid-run, or give it another token lifetime, without touching the others.
 *
 * Keystone runs as one uwsgi process with no master (so the pid spawned is
 * the only process to stop), on an HTTP/1.1 socket (openstackclient keeps
 * connections alive), over SQLite in WAL mode (a reader and a writer of the
 * same file otherwise fail with "database is locked").
 */

/** What the global setup hands the test files. */
export type KeystoneTemplate =
  | { readonly available: true; readonly dir: string }
  | { readonly available: false; readonly reason: string; readonly required: boolean };

declare module 'vitest' {
  export interface ProvidedContext {
    keystone: KeystoneTemplate;
  }
}

/** The accounts every prepared Keystone has (domain `Default`). */
export const ACCOUNTS = {
  admin: { user: 'admin', password: 'admin-secret', project: 'admin', role: 'admin' },
  /** The compute service's own account, as `[keystone_authtoken]` names it. */
  nova: { user: 'nova', password: 'nova-secret', project: 'service', role: 'admin' },
  alice: { user: 'alice', password: 'alice-secret', project: 'p1', role: 'member' },
  bob: { user: 'bob', password: 'bob-secret', project: 'p2', role: 'member' },
  /** An admin of alice's project: admin role, not the user name `admin`. */
  carol: { user: 'carol', password: 'carol-secret', project: 'p1', role: 'admin' },
} as const;

export type AccountName = keyof typeof ACCOUNTS;

const UWSGI = '/usr/bin/uwsgi';
const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
const KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public';
const PLUGIN = '/usr/lib/uwsgi/plugins/python3_plugin.so';

/** Whether the tests must have a Keystone (CI): then a missing one fails the run. */
export function keystoneRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = (env.CELLGROUPS_REQUIRE_KEYSTONE ?? '').trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(flag)) return true;
  const engines = (env.CELLGROUPS_REQUIRE_ENGINES ?? '').split(',').map((s) => s.trim());
  return engines.includes('all');
}

/** What is missing to run Keystone here, or undefined when everything is installed. */
export function keystoneMissing(): string | undefined {
  for (const file of [UWSGI, KEYSTONE_MANAGE, KEYSTONE_WSGI, PLUGIN]) {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      return `${file} is not installed (apt-get install python3-keystone uwsgi-core uwsgi-plugin-python3)`;
    }
  }
  return undefined;
}

/** Only what Keystone needs: the caller's OS_* variables and Python paths stay out. */
function keystoneEnv(configFile: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    OS_KEYSTONE_CONFIG_FILES: configFile,
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) {
        reject(new Error(`${path.basename(file)} ${args[2] ?? ''} failed: ${stderr.slice(-2000)}`));
      } else {
        resolve();
      }
    });
  });
}

function keystoneConf(dir: string, options: { expiration: number }): string {
  return `[DEFAULT]
use_stderr = false
log_file = ${path.join(dir, 'keystone.log')}

# Tests only: the cheapest bcrypt, so that issuing a token costs milliseconds, not seconds.
[identity]
password_hash_rounds = 4

[database]
connection = sqlite:///${path.join(dir, 'keystone.db')}

[token]
provider = fernet
expiration = ${options.expiration}

[fernet_tokens]
key_repository = ${path.join(dir, 'fernet-keys')}

[fernet_receipts]
key_repository = ${path.join(dir, 'fernet-keys')}

[credential]
key_repository = ${path.join(dir, 'credential-keys')}
`;
}

function uwsgiIni(dir: string, port: number, configFile: string): string {
  return `[uwsgi]
plugins-dir = ${path.dirname(PLUGIN)}
plugins = python3
wsgi-file = ${KEYSTONE_WSGI}
http11-socket = 127.0.0.1:${port}
processes = 1
master = false
need-app = true
# One worker serves one connection at a time, and an idle keep-alive connection would hold it
# (4 s, uwsgi's socket timeout) while every other client waits: close after each answer.
add-header = Connection: close
env = OS_KEYSTONE_CONFIG_FILES=${configFile}
pidfile = ${path.join(dir, 'uwsgi.pid')}
`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/**
 * Prepares a Keystone directory (database, keys, accounts) under `root`.
 * Run once per test run, by the global setup.
 */
export async function prepareKeystoneTemplate(root: string): Promise<string> {
  const dir = path.join(root, 'template');
  mkdirSync(path.join(dir, 'fernet-keys'), { recursive: true });
  mkdirSync(path.join(dir, 'credential-keys'), { recursive: true });
  const configFile = path.join(dir, 'keystone.conf');
  writeFileSync(configFile, keystoneConf(dir, { expiration: 3600 }));
  const env = keystoneEnv(configFile);
  const manage = (...args: string[]) =>
    run(KEYSTONE_MANAGE, ['--config-file', configFile, ...args], env);
  const owner = ['--keystone-user', userInfo().username, '--keystone-group', groupName()];
  await Promise.all([
    manage('db_sync'),
    manage('fernet_setup', ...owner),
    manage('credential_setup', ...owner),
  ]);
  // WAL is a property of the database file: set once here, every copy keeps it.
  const db = new Sqlite(path.join(dir, 'keystone.db'));
  db.pragma('journal_mode = WAL');
  db.close();
  const port = await freePort();
  await manage(
    'bootstrap',
    '--bootstrap-username',
    ACCOUNTS.admin.user,
    '--bootstrap-password',
    ACCOUNTS.admin.password,
    '--bootstrap-project-name',
    ACCOUNTS.admin.project,
    '--bootstrap-role-name',
    ACCOUNTS.admin.role,
    '--bootstrap-service-name',
    'keystone',
    '--bootstrap-region-id',
    'RegionOne',
    // Each copy listens on its own port; the catalog's identity URL is rewritten at start.
    '--bootstrap-public-url',
    `http://127.0.0.1:${port}/v3`,
  );
  const keystone = await launch(dir, port);
  try {
    await createAccounts(keystone);
  } finally {
    await keystone.stop({ keepDir: true });
  }
  return dir;
}

function groupName(): string {
  // The primary group's name: keystone-manage wants names, Node only knows the gid.
  const gid = userInfo().gid;
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(gid));
  return line?.split(':')[0] ?? String(gid);
}

async function createAccounts(keystone: Keystone): Promise<void> {
  const admin = await keystone.tokenFor('admin');
  const call = (method: string, url: string, body?: unknown) =>
    keystone.call(method, url, { token: admin, body });
  const roles = (await call('GET', '/v3/roles')) as { roles: { id: string; name: string }[] };
  const roleId = (name: string) => {
    const role = roles.roles.find((r) => r.name === name);
    if (!role) throw new Error(`Keystone has no role ${name}`);
    return role.id;
  };
  const projects = new Map<string, string>();
  const adminProjects = (await call('GET', '/v3/projects?name=admin')) as {
    projects: { id: string }[];
  };
  projects.set('admin', adminProjects.projects[0]?.id ?? '');
  for (const account of Object.values(ACCOUNTS)) {
    if (account.user === 'admin') continue;
    let projectId = projects.get(account.project);
    if (projectId === undefined) {
      const created = (await call('POST', '/v3/projects', {
        project: { name: account.project, domain_id: 'default' },
      })) as { project: { id: string } };
      projectId = created.project.id;
      projects.set(account.project, projectId);
    }
    const user = (await call('POST', '/v3/users', {
      user: { name: account.user, password: account.password, domain_id: 'default' },
    })) as { user: { id: string } };
    await call(
      'PUT',
      `/v3/projects/${projectId}/users/${user.user.id}/roles/${roleId(account.role)}`,
    );
  }
}

/** A running Keystone. */
export interface Keystone {
  /** `http://127.0.0.1:PORT` (the identity API is under `/v3`). */
  readonly url: string;
  readonly dir: string;
  /** A new project-scoped token for one of the prepared accounts. */
  tokenFor(account: AccountName): Promise<string>;
  /** A token and the body Keystone issued it with. */
  issue(account: AccountName): Promise<{ token: string; body: KeystoneTokenBody }>;
  /** Calls the identity API (JSON in and out); throws on a status >= 400. */
  call(
    method: string,
    url: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<unknown>;
  /** Adds a compute service whose public endpoint is `url` to the catalog. */
  registerCompute(url: string): Promise<void>;
  /** Stops the uwsgi process (and waits for it to exit); removes the directory unless kept. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

export interface KeystoneTokenBody {
  readonly token: {
    readonly expires_at: string;
    readonly user: { readonly id: string; readonly name: string };
    readonly project?: { readonly id: string; readonly name: string };
    readonly roles?: readonly { readonly id: string; readonly name: string }[];
  };
}

/** Starts uwsgi on a prepared directory and waits until Keystone answers. */
async function launch(dir: string, port: number): Promise<Keystone> {
  const configFile = path.join(dir, 'keystone.conf');
  const ini = path.join(dir, 'uwsgi.ini');
  writeFileSync(ini, uwsgiIni(dir, port, configFile));
  const logFile = path.join(dir, 'uwsgi.log');
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(UWSGI, ['--ini', ini], {
      env: keystoneEnv(configFile),
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  const stop: Keystone['stop'] = async (options = {}) => {
    if (alive()) {
      child.kill('SIGKILL');
      await exited;
    }
    if (options.keepDir !== true) rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!alive()) {
      throw new Error(`Keystone (uwsgi) exited at start; its log:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(`${url}/v3`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop({ keepDir: true });
      throw new Error(`Keystone did not answer on ${url} within 60 s; its log:\n${tail(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const call: Keystone['call'] = async (method, target, options = {}) => {
    const response = await fetch(`${url}${target}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.token === undefined ? {} : { 'x-auth-token': options.token }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status >= 400) {
      throw new Error(`Keystone ${method} ${target}: ${response.status} ${text}`);
    }
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  const issue: Keystone['issue'] = async (account) => {
    const { user, password, project } = ACCOUNTS[account];
    const response = await fetch(`${url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: user, domain: { id: 'default' }, password } },
          },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      }),
      signal: AbortSignal.timeout(30_000),
    });
    const token = response.headers.get('x-subject-token');
    if (response.status !== 201 || token === null) {
      throw new Error(
        `Keystone refused a token for ${user}: ${response.status} ${await response.text()}`,
      );
    }
    return { token, body: (await response.json()) as KeystoneTokenBody };
  };
  const keystone: Keystone = {
    url,
    dir,
    issue,
    tokenFor: async (account) => (await issue(account)).token,
    call,
    async registerCompute(computeUrl) {
      const admin = await keystone.tokenFor('admin');
      const service = (await call('POST', '/v3/services', {
        token: admin,
        body: { service: { type: 'compute', name: 'nova', enabled: true } },
      })) as { service: { id: string } };
      await call('POST', '/v3/endpoints', {
        token: admin,
        body: {
          endpoint: {
            service_id: service.service.id,
            interface: 'public',
            region_id: 'RegionOne',
            url: computeUrl,
          },
        },
      });
    },
    stop,
  };
  return keystone;
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '(no log)';
}

/**
 * Starts a Keystone of its own for the calling test file, on a copy of the
 * prepared template. `expiration` is `[token] expiration` in seconds.
 */
export async function startKeystone(options: { expiration?: number } = {}): Promise<Keystone> {
  const template = inject('keystone');
  if (!template.available) throw new Error(`no Keystone for this run: ${template.reason}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'cellgroups-keystone-'));
  cpSync(path.join(template.dir, 'fernet-keys'), path.join(dir, 'fernet-keys'), {
    recursive: true,
  });
  cpSync(path.join(template.dir, 'credential-keys'), path.join(dir, 'credential-keys'), {
    recursive: true,
  });
  // The template's Keystone is stopped: the database and its WAL are a consistent pair.
  for (const suffix of ['', '-wal', '-shm']) {
    const from = path.join(template.dir, `keystone.db${suffix}`);
    if (existsSync(from)) copyFileSync(from, path.join(dir, `keystone.db${suffix}`));
  }
  writeFileSync(
    path.join(dir, 'keystone.conf'),
    keystoneConf(dir, { expiration: options.expiration ?? 3600 }),
  );
  const port = await freePort();
  // The catalog's identity endpoint must name this copy's port (clients follow it).
  const db = new Sqlite(path.join(dir, 'keystone.db'));
  db.prepare(
    "update endpoint set url = ? where service_id in (select id from service where type = 'identity')",
  ).run(`http://127.0.0.1:${port}/v3`);
  db.close();
  try {
    return await launch(dir, port);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * What a test file that needs Keystone does first: undefined means "skip"
 * (with a note), which only happens when no one requires Keystone.
 */
export function keystoneForThisRun(): KeystoneTemplate {
  return inject('keystone');
}
