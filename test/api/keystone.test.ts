import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { keystoneAuth } from '../../src/api/auth/keystone.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { blackhole, createCloud, type TestCloud } from '../support/cloud.js';
import type { TestEngine } from '../support/engines.js';
import {
  ACCOUNTS,
  keystoneForThisRun,
  startKeystone,
  type AccountName,
  type Keystone,
} from '../support/keystone.js';

/**
 * `[api] auth_strategy = keystone` against a real Keystone: every answer is
 * the one Nova (keystonemiddleware's auth_token in front of it) gives.
 */
const SQLITE: TestEngine = { name: 'sqlite', label: 'SQLite', serverUrl: undefined };
const UNAUTHORIZED = {
  error: {
    code: 401,
    title: 'Unauthorized',
    message: 'The request you have made requires authentication.',
  },
};
/** keystonemiddleware's 503: webob's page, here as JSON (the client accepts it). */
const UNAVAILABLE = {
  message:
    'The server is currently unavailable. Please try again at a later time.<br /><br />\nThe Keystone service is temporarily unavailable.\n\n',
  code: '503 Service Unavailable',
  title: 'Service Unavailable',
};

const template = keystoneForThisRun();
const maybe = template.available ? describe : describe.skip;

function keystoneConfig(
  authUrl: string,
  extra: Record<string, string> = {},
  account: AccountName = 'nova',
): Config {
  const { user, password, project } = ACCOUNTS[account];
  return loadConfig({
    env: {
      OS_API__AUTH_STRATEGY: 'keystone',
      OS_KEYSTONE_AUTHTOKEN__WWW_AUTHENTICATE_URI: 'http://keystone.example:5000',
      OS_KEYSTONE_AUTHTOKEN__AUTH_URL: authUrl,
      OS_KEYSTONE_AUTHTOKEN__USERNAME: user,
      OS_KEYSTONE_AUTHTOKEN__PASSWORD: password,
      OS_KEYSTONE_AUTHTOKEN__PROJECT_NAME: project,
      ...Object.fromEntries(
        Object.entries(extra).map(([k, v]) => [`OS_KEYSTONE_AUTHTOKEN__${k.toUpperCase()}`, v]),
      ),
    },
  });
}

/** How many times Keystone was asked to validate a token (its own request log says). */
function validations(keystone: Keystone): number {
  const log = readFileSync(path.join(keystone.dir, 'uwsgi.log'), 'utf8');
  return log.split('\n').filter((line) => line.includes('GET /v3/auth/tokens')).length;
}

/** uwsgi writes its log line after the answer: wait a moment for `count` more, then check. */
async function expectValidations(keystone: Keystone, before: number, count: number) {
  for (let i = 0; i < 20 && validations(keystone) - before < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(validations(keystone) - before).toBe(count);
}

maybe('keystone auth strategy (real Keystone)', () => {
  let keystone: Keystone;
  let cloud: TestCloud;
  let app: FastifyInstance;
  const logLines: string[] = [];
  let clock = 0;
  const now = () => Date.now() + clock;
  let tokens: Record<'alice' | 'bob' | 'carol', string>;

  beforeAll(async () => {
    [keystone, cloud] = await Promise.all([startKeystone(), createCloud(SQLITE, [SQLITE])]);
    const config = keystoneConfig(`${keystone.url}/v3`, { token_cache_time: '60' });
    app = buildApp({
      config,
      groups: cloud.service,
      auth: keystoneAuth(config, { now }),
      logStream: { write: (line) => logLines.push(line) },
    });
    const [alice, bob, carol] = await Promise.all(
      (['alice', 'bob', 'carol'] as const).map((a) => keystone.tokenFor(a)),
    );
    tokens = { alice: alice ?? '', bob: bob ?? '', carol: carol ?? '' };
  });
  afterAll(async () => {
    await app.close();
    await cloud.destroy();
    await keystone.stop();
  });

  const ask = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      headers: {
        'openstack-api-version': 'compute 2.64',
        accept: 'application/json',
        ...(token === undefined ? {} : { 'x-auth-token': token }),
      },
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });

  function expectUnauthorized(response: LightMyRequestResponse): void {
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual(UNAUTHORIZED);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['www-authenticate']).toBe(
      'Keystone uri="http://keystone.example:5000"',
    );
    expect(response.headers['x-openstack-request-id']).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(response.headers['x-compute-request-id']).toBe(
      response.headers['x-openstack-request-id'],
    );
    // The 401 comes before any microversion is negotiated.
    expect(response.headers['openstack-api-version']).toBeUndefined();
    expect(response.headers['x-openstack-nova-api-version']).toBeUndefined();
    expect(response.headers.vary).toBeUndefined();
  }

  it('answers a request without a token, or with one Keystone does not know, with its 401', async () => {
    expectUnauthorized(await ask('GET', '/v2.1/os-server-groups', undefined));
    expectUnauthorized(await ask('GET', '/v2.1/os-server-groups', ''));
    expectUnauthorized(await ask('GET', '/v2.1/os-server-groups', 'not-a-token'));
    // A well-formed fernet token Keystone never issued (its keys differ from ours).
    expectUnauthorized(
      await ask('POST', '/v2.1/os-server-groups', `${tokens.alice.slice(0, -8)}AAAAAAAA`, {
        server_group: { name: 'x', policy: 'affinity' },
      }),
    );
  });

  it('serves the version documents without a token, as Nova does', async () => {
    const root = await app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(200);
    expect(root.json<{ versions: unknown[] }>().versions).toHaveLength(2);
    const v21 = await app.inject({ method: 'GET', url: '/v2.1' });
    expect(v21.statusCode).toBe(200);
    expect(v21.json<{ version: { id: string } }>().version.id).toBe('v2.1');
  });

  it("a valid token acts as its user in its project; other projects' groups are not found", async () => {
    const alice = await keystone.issue('alice');
    const created = await ask('POST', '/v2.1/os-server-groups', tokens.alice, {
      server_group: { name: 'ks-web', policy: 'anti-affinity' },
    });
    expect(created.statusCode).toBe(200);
    const group = created.json<{
      server_group: { id: string; project_id: string; user_id: string };
    }>().server_group;
    // The ids Keystone gave the user and project, not their names.
    expect(group.project_id).toBe(alice.body.token.project?.id);
    expect(group.user_id).toBe(alice.body.token.user.id);

    const listed = await ask('GET', '/v2.1/os-server-groups', tokens.alice);
    expect(
      listed.json<{ server_groups: { id: string }[] }>().server_groups.map((g) => g.id),
    ).toEqual([group.id]);
    // bob is in another project: Nova answers 404 for a group he cannot see.
    const shown = await ask('GET', `/v2.1/os-server-groups/${group.id}`, tokens.bob);
    expect(shown.statusCode).toBe(404);
    expect(shown.json()).toEqual({
      itemNotFound: { code: 404, message: `Instance group ${group.id} could not be found.` },
    });
    const deleted = await ask('DELETE', `/v2.1/os-server-groups/${group.id}`, tokens.bob);
    expect(deleted.statusCode).toBe(404);
    const bobs = await ask('GET', '/v2.1/os-server-groups?all_projects=True', tokens.bob);
    expect(bobs.json<{ server_groups: unknown[] }>().server_groups).toEqual([]);
    // carol holds the admin role (in alice's project): an admin context, so every project.
    const all = await ask('GET', '/v2.1/os-server-groups?all_projects=True', tokens.carol);
    expect(
      all.json<{ server_groups: { id: string }[] }>().server_groups.map((g) => g.id),
    ).toContain(group.id);
    const bobGroup = await ask('POST', '/v2.1/os-server-groups', tokens.bob, {
      server_group: { name: 'ks-bob', policy: 'affinity' },
    });
    const bobId = bobGroup.json<{ server_group: { id: string } }>().server_group.id;
    expect((await ask('GET', `/v2.1/os-server-groups/${bobId}`, tokens.carol)).statusCode).toBe(
      200,
    );
    expect((await ask('GET', `/v2.1/os-server-groups/${bobId}`, tokens.alice)).statusCode).toBe(
      404,
    );
  });

  it('asks Keystone once per token within token_cache_time, then again', async () => {
    const token = await keystone.tokenFor('alice');
    const before = validations(keystone);
    for (let i = 0; i < 5; i++) {
      expect((await ask('GET', '/v2.1/os-server-groups', token)).statusCode).toBe(200);
    }
    await expectValidations(keystone, before, 1);
    clock += 61_000;
    expect((await ask('GET', '/v2.1/os-server-groups', token)).statusCode).toBe(200);
    await expectValidations(keystone, before, 2);
  });

  it('a revoked token is refused once its cached validation runs out', async () => {
    const token = await keystone.tokenFor('alice');
    expect((await ask('GET', '/v2.1/os-server-groups', token)).statusCode).toBe(200);
    await keystone.call('DELETE', '/v3/auth/tokens', {
      token: await keystone.tokenFor('admin'),
      headers: { 'x-subject-token': token },
    });
    // Within token_cache_time the cache answers (keystonemiddleware's trade-off too)...
    expect((await ask('GET', '/v2.1/os-server-groups', token)).statusCode).toBe(200);
    clock += 61_000;
    // ...after it, Keystone says the token is gone.
    expectUnauthorized(await ask('GET', '/v2.1/os-server-groups', token));
    // A revoked token Keystone is asked about again is refused at once.
    expectUnauthorized(await ask('GET', '/v2.1/os-server-groups', token));
  });

  it('an expired token is refused, whether its validation was cached or not', async () => {
    // A Keystone whose tokens live 3 s, and two servers in front of it: one that caches
    // validations for longer than that, one that asks every time.
    const shortLived = await startKeystone({ expiration: 3 });
    const apps = ['60', '-1'].map((cacheTime) => {
      const config = keystoneConfig(`${shortLived.url}/v3`, { token_cache_time: cacheTime });
      return buildApp({ config, groups: cloud.service });
    });
    try {
      const token = await shortLived.tokenFor('alice');
      const get = (a: FastifyInstance) =>
        a.inject({
          method: 'GET',
          url: '/v2.1/os-server-groups',
          headers: { 'x-auth-token': token },
        });
      for (const a of apps) expect((await get(a)).statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const before = validations(shortLived);
      const [cached, uncached] = await Promise.all(apps.map(get));
      expectUnauthorized(cached ?? fail());
      expectUnauthorized(uncached ?? fail());
      // A cached validation never outlives its token: both servers asked Keystone again.
      await expectValidations(shortLived, before, 2);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
      await shortLived.stop();
    }
  });

  it('a token without a project is refused with 403', async () => {
    const response = await fetch(`${keystone.url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: {
                name: 'alice',
                domain: { id: 'default' },
                password: ACCOUNTS.alice.password,
              },
            },
          },
        },
      }),
    });
    const unscoped = response.headers.get('x-subject-token') ?? '';
    const answer = await ask('GET', '/v2.1/os-server-groups', unscoped);
    expect(answer.statusCode).toBe(403);
    expect(answer.json<{ forbidden: { code: number } }>().forbidden.code).toBe(403);
  });

  it('wrong service credentials: 503 and a log line, never an open door', async () => {
    const config = keystoneConfig(`${keystone.url}/v3`, { password: 'wrong' });
    const lines: string[] = [];
    const wrong = buildApp({
      config,
      groups: cloud.service,
      logStream: { write: (line) => lines.push(line) },
    });
    try {
      const answer = await wrong.inject({
        method: 'GET',
        url: '/v2.1/os-server-groups',
        headers: { 'x-auth-token': tokens.alice, accept: 'application/json' },
      });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual(UNAVAILABLE);
      expect(lines.join('')).toContain('Keystone refused the service credentials');
    } finally {
      await wrong.close();
    }
  });

  it('a Keystone that accepts connections and never answers: 503 within http_connect_timeout', async () => {
    const hole = await blackhole();
    const config = keystoneConfig(`http://127.0.0.1:${hole.port}/v3`, {
      http_connect_timeout: '1',
    });
    const slow = buildApp({ config, groups: cloud.service });
    try {
      const started = Date.now();
      const answer = await slow.inject({
        method: 'GET',
        url: '/v2.1/os-server-groups',
        headers: { 'x-auth-token': tokens.alice },
      });
      // No Accept header: webob's plain-text page.
      expect(answer.headers['content-type']).toBe('text/plain; charset=UTF-8');
      expect(answer.body).toBe(
        '503 Service Unavailable\n\nThe server is currently unavailable. Please try again at a later time.\n\n The Keystone service is temporarily unavailable.  ',
      );
      expect(answer.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await slow.close();
      await hole.close();
    }
  });

  // Last: it stops this file's Keystone.
  it('Keystone stopped mid-run: new tokens get a 503 and a log line, cached ones still work', async () => {
    const cachedToken = await keystone.tokenFor('alice');
    expect((await ask('GET', '/v2.1/os-server-groups', cachedToken)).statusCode).toBe(200);
    const freshToken = await keystone.tokenFor('bob');
    await keystone.stop({ keepDir: true });
    logLines.length = 0;
    const started = Date.now();
    const answer = await ask('GET', '/v2.1/os-server-groups', freshToken);
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toEqual(UNAVAILABLE);
    // webob's JSON content type, without a charset.
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.headers['x-openstack-request-id']).toMatch(/^req-/);
    // Refused connections are retried briefly, well within http_connect_timeout (5 s).
    expect(Date.now() - started).toBeLessThan(5000);
    const logged = logLines.map((l) => JSON.parse(l) as { level: number; msg: string });
    const errors = logged.filter((l) => l.level === 50).map((l) => l.msg);
    expect(errors.join('\n')).toMatch(
      /^Unable to validate token: cannot reach Keystone at http:\/\/127\.0\.0\.1:\d+\/v3: ECONNREFUSED$/m,
    );
    // A validation still cached needs no Keystone (keystonemiddleware's cache does the same).
    expect((await ask('GET', '/v2.1/os-server-groups', cachedToken)).statusCode).toBe(200);
  });
});

function fail(): never {
  throw new Error('missing response');
}
