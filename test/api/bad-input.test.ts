import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { lenientUrl } from '../../src/api/http/urls.js';
import { FAULT_CONTENT_TYPE } from '../../src/api/http/versioning.js';
import { loadConfig } from '../../src/config/load.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';

/**
 * The bad input the property test (bad-input.property.test.ts) found
 * answered with a 500, a body not in the compute fault shape, or data not
 * stored as asked; each answered here as Nova answers it.
 */

const INVALID_NAME =
  "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";

forEachEngine((engine) => {
  describe('bad input the property test found', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      cloud = await createCloud(engine, [engine]);
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    const call = async (
      method: 'GET' | 'POST' | 'DELETE' | 'PATCH',
      url: string,
      options: { headers?: Record<string, string>; payload?: string } = {},
    ) => {
      const response = await app.inject({
        method,
        url,
        headers: { 'x-auth-token': 'alice:p1', ...options.headers },
        ...(options.payload === undefined ? {} : { payload: options.payload }),
      });
      return {
        status: response.statusCode,
        type: response.headers['content-type'],
        body: response.body,
      };
    };
    const fault = (status: number, key: string, message: string) => ({
      status,
      type: FAULT_CONTENT_TYPE,
      body: JSON.stringify({ [key]: { code: status, message } }),
    });
    const notFound = (ref: string) =>
      fault(404, 'itemNotFound', `Instance group ${ref} could not be found.`);

    const create = (group: Record<string, unknown>, headers: Record<string, string> = {}) =>
      call('POST', '/v2.1/os-server-groups', {
        headers: {
          'content-type': 'application/json',
          'openstack-api-version': 'compute 2.64',
          ...headers,
        },
        payload: JSON.stringify({ server_group: group }),
      });

    describe('paths', () => {
      it('a broken percent escape is the group of that name, not found (Python unquotes it as is)', async () => {
        expect(await call('GET', '/v2.1/os-server-groups/%zz')).toEqual(notFound('%zz'));
        expect(await call('DELETE', '/v2.1/os-server-groups/%')).toEqual(notFound('%'));
        expect(await call('GET', '/v2.1/os-server-groups/%E0%A4%A')).toEqual(notFound('\ufffd%A'));
      });

      it('an id of any length is looked for', async () => {
        const long = 'x'.repeat(300);
        expect(await call('GET', `/v2.1/os-server-groups/${long}`)).toEqual(notFound(long));
      });

      it('an id with a NUL is not found, on every engine (PostgreSQL refuses NUL in text)', async () => {
        expect(await call('GET', '/v2.1/os-server-groups/%00')).toEqual(notFound('\u0000'));
        expect(await call('DELETE', '/v2.1/os-server-groups/a%00b')).toEqual(notFound('a\u0000b'));
      });

      it('an offset past any bigint is an empty page, as Nova slices it', async () => {
        const page = await call('GET', '/v2.1/os-server-groups?offset=99999999999999999999');
        expect([page.status, page.body]).toEqual([200, '{"server_groups":[]}']);
      });

      it("a project in the URL that is not the caller's is Nova's 400", async () => {
        expect((await call('GET', '/v2.1/p1/os-server-groups')).status).toBe(200);
        expect(await call('GET', '/v2.1/p2/os-server-groups')).toEqual(
          fault(
            400,
            'badRequest',
            "Malformed request URL: URL's project_id 'p2' doesn't match Context's project_id 'p1'",
          ),
        );
      });

      it('an unrouted request is the 404 page whatever its body', async () => {
        const answer = await call('PATCH', '/v2.1/os-server-groups/x', {
          headers: { 'content-type': 'application/json', accept: '*/*' },
          payload: '{not json',
        });
        expect([answer.status, answer.type]).toEqual([404, 'text/html; charset=UTF-8']);
        // With no Accept header at all, webob's page is plain text (as from the real Nova).
        const bare = await call('PATCH', '/v2.1/os-server-groups/x', {
          headers: { 'content-type': 'application/json' },
          payload: '{not json',
        });
        expect([bare.status, bare.type]).toEqual([404, 'text/plain; charset=UTF-8']);
      });
    });

    describe('tokens', () => {
      it('a noauth2 id longer than the columns is refused, not a database error', async () => {
        const body = JSON.stringify({ server_group: { name: 'tok', policies: ['affinity'] } });
        const post = (token: string) =>
          call('POST', '/v2.1/os-server-groups', {
            headers: { 'x-auth-token': token, 'content-type': 'application/json' },
            payload: body,
          });
        const refused = fault(
          400,
          'badRequest',
          'X-Auth-Token: user and project ids are at most 255 characters (noauth2 tokens are user:project).',
        );
        expect(await post(`${'u'.repeat(256)}:p9`)).toEqual(refused);
        expect(await post(`u:${'p'.repeat(256)}`)).toEqual(refused);
        expect((await post(`${'u'.repeat(255)}:${'p'.repeat(255)}`)).status).toBe(200);
      });
    });

    describe('bodies and their Content-Type', () => {
      const body = JSON.stringify({ server_group: { name: 'ct', policies: ['affinity'] } });

      it('an empty media type reads as JSON, as in Nova', async () => {
        for (const type of [';', '', '; charset=UTF-8']) {
          const answer = await call('POST', '/v2.1/os-server-groups', {
            headers: { 'content-type': type },
            payload: body,
          });
          expect(answer.status, type).toBe(200);
        }
      });

      it("a media type Fastify cannot parse is Nova's 415", async () => {
        const answer = await call('POST', '/v2.1/os-server-groups', {
          headers: { 'content-type': 'zC>' },
          payload: body,
        });
        expect(answer).toEqual(fault(415, 'badMediaType', 'Unsupported Content-Type'));
      });

      it('an unsupported media type is refused whatever the method', async () => {
        expect(
          await call('GET', '/v2.1/os-server-groups', {
            headers: { 'content-type': 'application/xml' },
          }),
        ).toEqual(fault(415, 'badMediaType', 'Unsupported Content-Type'));
      });

      it('the body of a DELETE is never read', async () => {
        const created = JSON.parse((await create({ name: 'del', policy: 'affinity' })).body) as {
          server_group: { id: string };
        };
        const answer = await call('DELETE', `/v2.1/os-server-groups/${created.server_group.id}`, {
          headers: { 'content-type': 'application/json' },
          payload: '{not json',
        });
        expect(answer.status).toBe(204);
      });

      it("a body over Nova's 112 KiB is a 413", async () => {
        const answer = await create({ name: 'x'.repeat(120_000), policy: 'affinity' });
        expect(answer).toEqual(fault(413, 'overLimit', 'Request is too large.'));
      });

      it('a body nested deeper than Python reads is malformed, not a stack overflow', async () => {
        const answer = await call('POST', '/v2.1/os-server-groups', {
          headers: { 'content-type': 'application/json' },
          payload: `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
        });
        expect(answer).toEqual(fault(400, 'badRequest', 'Malformed request body'));
      });
    });

    describe('names', () => {
      it('refuses what Nova does not call printable: lone surrogates, format characters, separators, astral characters', async () => {
        for (const name of ['\ud800', 'a\u200bb', 'a\u2028b', 'web \u{1f600}', '\u00a0web']) {
          expect(await create({ name, policy: 'affinity' }), JSON.stringify(name)).toEqual(
            fault(400, 'badRequest', INVALID_NAME),
          );
        }
      });

      it('stores a printable name exactly as asked', async () => {
        for (const name of ['we\u00a0b', '名前', "O'Reilly"]) {
          const answer = await create({ name, policy: 'affinity' });
          expect(answer.status).toBe(200);
          expect(
            (JSON.parse(answer.body) as { server_group: { name: string } }).server_group.name,
          ).toBe(name);
        }
      });
    });

    describe('max_server_per_host', () => {
      const withRule = (max: unknown) =>
        call('POST', '/v2.1/os-server-groups', {
          headers: {
            'content-type': 'application/json',
            'openstack-api-version': 'compute 2.64',
          },
          payload: `{"server_group": {"name": "r", "policy": "anti-affinity", "rules": {"max_server_per_host": ${String(max)}}}}`,
        });
      const invalid = (message: string) =>
        fault(
          400,
          'badRequest',
          `Invalid input for field/attribute max_server_per_host. ${message}`,
        );

      it('a number string is held to the minimum, as Nova does', async () => {
        expect(await withRule('"0"')).toEqual(invalid('Value: 0. 0 is less than the minimum of 1'));
      });

      it('a number too large for a double is inf, and no integer', async () => {
        expect(await withRule('1e400')).toEqual(
          invalid("Value: inf. inf is not of type 'integer', 'string'"),
        );
      });

      it('a number that could not be stored exactly is refused, not rounded', async () => {
        expect(await withRule('9007199254740993')).toEqual(
          invalid(
            'Value: 9007199254740992. 9007199254740992 is greater than the maximum of 9007199254740991',
          ),
        );
        expect(await withRule('"99999999999999999999"')).toEqual(
          invalid(
            'Value: 99999999999999999999. 100000000000000000000 is greater than the maximum of 9007199254740991',
          ),
        );
      });
    });
  });
});

describe('lenientUrl', () => {
  it("reads a path as Python's unquote would, and leaves the query alone", () => {
    expect(lenientUrl('/a/%zz/%41?x=%zz')).toBe('/a/%25zz/%41?x=%zz');
    expect(lenientUrl('/a/%E0%A4%A')).toBe('/a/%EF%BF%BD%25A');
    expect(lenientUrl('/a/%C3%A9')).toBe('/a/%C3%A9');
  });
});
