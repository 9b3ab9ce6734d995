import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import type { TestEngine } from '../support/engines.js';
import {
  ACCOUNTS,
  keystoneForThisRun,
  keystoneRequired,
  startKeystone,
  type Keystone,
} from '../support/keystone.js';

/**
 * The `openstack` CLI operators use (Debian's python3-openstackclient, run
 * as a real process) against a compute API this file starts: server group
 * create, list, list --long, show and delete at microversions 2.1, 2.15
 * and 2.64, with noauth2 (admin_token auth: the endpoint and a
 * `user:project` token) and with keystone (password auth through a real
 * Keystone whose catalog points at this server). Outputs are read with
 * `-f json` and checked field by field.
 */
const OPENSTACK = '/usr/bin/openstack';
const SQLITE: TestEngine = { name: 'sqlite', label: 'SQLite', serverUrl: undefined };

function openstackMissing(): string | undefined {
  try {
    accessSync(OPENSTACK, constants.X_OK);
    return undefined;
  } catch {
    return `${OPENSTACK} is not installed (apt-get install python3-openstackclient)`;
  }
}

const template = keystoneForThisRun();
const missing = openstackMissing() ?? (template.available ? undefined : template.reason);
if (missing !== undefined && keystoneRequired()) {
  // The global setup fails first when Keystone is missing; this covers openstackclient alone.
  throw new Error(`openstackclient tests are required but cannot run: ${missing}`);
}
const maybe = missing === undefined ? describe : describe.skip;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `openstack` with only the options given: no OS_* from the caller's shell, no clouds.yaml. */
function openstack(auth: readonly string[], args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      OPENSTACK,
      [...auth, ...args],
      {
        env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', LANG: 'C.UTF-8' },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 255) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

async function json<T>(auth: readonly string[], args: readonly string[]): Promise<T> {
  const run = await openstack(auth, [...args, '-f', 'json']);
  if (run.code !== 0) {
    throw new Error(`openstack ${args.join(' ')} exited ${run.code}: ${run.stderr}${run.stdout}`);
  }
  return JSON.parse(run.stdout) as T;
}

async function serve(
  config: Config,
  cloud: TestCloud,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildApp({ config, groups: cloud.service });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

type Row = Record<string, unknown>;

/**
 * The scenario at one microversion, as the given user of the given project:
 * what each command prints is what Nova's answer at that version holds.
 */
function scenario(
  version: '2.1' | '2.15' | '2.64',
  context: () => { auth: readonly string[]; projectId: string; userId: string },
): void {
  it(`server group create / list / list --long / show / delete at ${version}`, async () => {
    const { auth: base, projectId, userId } = context();
    const auth = [...base, '--os-compute-api-version', version];
    const name = `osc-${version}`;
    const policy = version === '2.1' ? 'affinity' : 'soft-anti-affinity';
    // 2.1 and 2.15 show `policies` (a list) and, from 2.13, the owner; 2.64 `policy` and `rules`.
    const owner =
      version === '2.1'
        ? { project_id: null, user_id: null }
        : { project_id: projectId, user_id: userId };
    const shown =
      version === '2.64'
        ? { name, policy, rules: {}, members: [], project_id: projectId, user_id: userId }
        : { name, policies: [policy], members: [], ...owner };

    const created = await json<Row>(auth, ['server', 'group', 'create', '--policy', policy, name]);
    expect(created).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown, ...shown });
    const id = created.id as string;

    expect(await json<Row>(auth, ['server', 'group', 'show', name])).toEqual(created);
    expect(await json<Row>(auth, ['server', 'group', 'show', id])).toEqual(created);

    const listed = await json<Row[]>(auth, ['server', 'group', 'list']);
    const short =
      version === '2.64'
        ? { ID: id, Name: name, Policy: policy }
        : { ID: id, Name: name, Policies: [policy] };
    expect(listed).toContainEqual(short);

    const long = await json<Row[]>(auth, ['server', 'group', 'list', '--long']);
    expect(long).toContainEqual({
      ...short,
      Members: [],
      'Project Id': version === '2.1' ? null : projectId,
      'User Id': version === '2.1' ? null : userId,
    });

    const deleted = await openstack(auth, ['server', 'group', 'delete', name]);
    expect(deleted).toEqual({ code: 0, stdout: '', stderr: '' });
    const after = await json<Row[]>(auth, ['server', 'group', 'list']);
    expect(after.map((row) => row.ID)).not.toContain(id);
    // Seven CLI processes, each a Python start (and a Keystone login) of 2-3 s on a busy machine.
  }, 180_000);
}

maybe('openstackclient', () => {
  let cloud: TestCloud;
  beforeAll(async () => {
    cloud = await createCloud(SQLITE, [SQLITE]);
  });
  afterAll(async () => {
    await cloud.destroy();
  });

  describe('noauth2 (admin_token auth)', () => {
    let server: { app: FastifyInstance; url: string };
    beforeAll(async () => {
      server = await serve(loadConfig({ env: {} }), cloud);
    });
    afterAll(async () => {
      await server.app.close();
    });
    const context = () => ({
      auth: [
        '--os-auth-type',
        'admin_token',
        '--os-endpoint',
        `${server.url}/v2.1`,
        '--os-token',
        'alice:smoke-p1',
      ],
      projectId: 'smoke-p1',
      userId: 'alice',
    });
    scenario('2.1', context);
    scenario('2.15', context);
    scenario('2.64', context);

    it("another project's group is not shown", async () => {
      const auth = [...context().auth, '--os-compute-api-version', '2.64'];
      const group = await json<Row>(auth, [
        'server',
        'group',
        'create',
        '--policy',
        'affinity',
        'osc-private',
      ]);
      const bob = [
        '--os-auth-type',
        'admin_token',
        '--os-endpoint',
        `${server.url}/v2.1`,
        '--os-token',
        'bob:smoke-p2',
      ];
      const listed = await json<Row[]>(bob, ['server', 'group', 'list']);
      expect(listed.map((row) => row.ID)).not.toContain(group.id);
    });
  });

  describe('keystone (password auth through a real Keystone)', () => {
    let keystone: Keystone;
    let server: { app: FastifyInstance; url: string };
    let alice: { projectId: string; userId: string };
    beforeAll(async () => {
      keystone = await startKeystone();
      const config = loadConfig({
        env: {
          OS_API__AUTH_STRATEGY: 'keystone',
          OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI: `${keystone.url}/v3`,
          OS_KEYSTONE_AUTHTOKEN__AUTH_URL: `${keystone.url}/v3`,
          OS_KEYSTONE_AUTHTOKEN__USERNAME: ACCOUNTS.nova.user,
          OS_KEYSTONE_AUTHTOKEN__PASSWORD: ACCOUNTS.nova.password,
          OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME: ACCOUNTS.nova.project,
        },
      });
      server = await serve(config, cloud);
      // Clients find the compute API in the catalog of their token.
      await keystone.registerCompute(`${server.url}/v2.1`);
      const issued = await keystone.issue('alice');
      alice = { projectId: issued.body.token.project?.id ?? '', userId: issued.body.token.user.id };
    });
    afterAll(async () => {
      await server.app.close();
      await keystone.stop();
    });
    const password = (account: 'alice' | 'bob') => [
      '--os-auth-type',
      'password',
      '--os-auth-url',
      `${keystone.url}/v3`,
      '--os-identity-api-version',
      '3',
      '--os-username',
      ACCOUNTS[account].user,
      '--os-password',
      ACCOUNTS[account].password,
      '--os-project-name',
      ACCOUNTS[account].project,
      '--os-user-domain-name',
      'Default',
      '--os-project-domain-name',
      'Default',
      '--os-region-name',
      'RegionOne',
    ];
    const context = () => ({ auth: password('alice'), ...alice });
    scenario('2.1', context);
    scenario('2.15', context);
    scenario('2.64', context);

    it("another project's group is not shown", async () => {
      const auth = [...password('alice'), '--os-compute-api-version', '2.64'];
      const group = await json<Row>(auth, [
        'server',
        'group',
        'create',
        '--policy',
        'affinity',
        'osc-private',
      ]);
      const listed = await json<Row[]>(password('bob'), ['server', 'group', 'list']);
      expect(listed.map((row) => row.ID)).not.toContain(group.id);
    });

    it('a token Keystone does not know: the 401 reaches the user', async () => {
      const bad = [
        '--os-auth-type',
        'admin_token',
        '--os-endpoint',
        `${server.url}/v2.1`,
        '--os-token',
        'not-a-token',
      ];
      const run = await openstack(bad, ['server', 'group', 'list']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('The request you have made requires authentication.');
    });
  });
});
