import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authStrategyFor, authenticate, noAuth2 } from '../../src/api/auth/auth.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { expected, replay } from '../support/replay.js';
import { readSample } from '../support/samples.js';

describe('noauth2', () => {
  let app: FastifyInstance;
  beforeAll(() => {
    // A route that shows the context it was given, behind the strategy.
    app = Fastify({
      genReqId: () => `req-${crypto.randomUUID()}`,
      routerOptions: { ignoreTrailingSlash: true },
    });
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-openstack-request-id', request.id);
      reply.header('x-compute-request-id', request.id);
      done();
    });
    app.register(
      (scope, _opts, done) => {
        authenticate(scope, noAuth2);
        scope.get('/os-server-groups', (request) => request.context);
        done();
      },
      { prefix: '/v2.1' },
    );
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers a request without a token with the handshake of sample 04', async () => {
    const sample = readSample('04-noauth2_no_token.mvnone.json');
    expect(await replay(app, sample)).toEqual(expected(sample));
  });

  it('trusts user:project; user id admin is an admin in any project', async () => {
    const ask = async (token: string) =>
      (
        await app.inject({
          method: 'GET',
          url: '/v2.1/os-server-groups',
          headers: { 'x-auth-token': token },
        })
      ).json<unknown>();
    expect(await ask('alice:smoke-p1')).toEqual({
      userId: 'alice',
      projectId: 'smoke-p1',
      isAdmin: false,
    });
    expect(await ask('admin:other')).toEqual({
      userId: 'admin',
      projectId: 'other',
      isAdmin: true,
    });
    expect(await ask('bob')).toEqual({ userId: 'bob', projectId: 'bob', isAdmin: false });
  });

  it('the handshake names the user and project asked for', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/v2.1/os-server-groups/',
      headers: { host: 'api.example:8774', 'x-auth-user': 'carol', 'x-auth-project-id': 'p9' },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['x-auth-token']).toBe('carol:p9');
    expect(response.headers['x-server-management-url']).toBe(
      'http://api.example:8774/v2.1/os-server-groups/p9',
    );
  });

  it('keystone without its [keystone_authtoken] settings is refused at start, rather than run open', () => {
    expect(() =>
      authStrategyFor(loadConfig({ env: { OS_API__AUTH_STRATEGY: 'keystone' } })),
    ).toThrow(ConfigError);
  });
});
