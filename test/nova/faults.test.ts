import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  computeRequest,
  describeNova,
  nova,
  novaApi,
  startCellgroupsApi,
  type Caller,
  type CellgroupsApi,
} from '../support/nova/nova.js';

/** A request both APIs must refuse (or answer) alike. */
interface Case {
  readonly what: string;
  readonly method: string;
  readonly route: string;
  readonly microversion: string;
  readonly body?: unknown;
  readonly caller?: 'owner' | 'admin';
}

const long = 'x'.repeat(256);

const CASES: readonly Case[] = [
  { what: 'no body', method: 'POST', route: '/os-server-groups', microversion: '2.1' },
  {
    what: 'no name',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { policies: ['affinity'] } },
  },
  {
    what: 'a name too long',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: long, policies: ['affinity'] } },
  },
  {
    what: 'an unknown policy',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: 'g', policies: ['spread'] } },
  },
  {
    what: 'a soft policy before 2.15',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.14',
    body: { server_group: { name: 'g', policies: ['soft-affinity'] } },
  },
  {
    what: 'two policies',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: 'g', policies: ['affinity', 'anti-affinity'] } },
  },
  {
    what: 'policies at 2.64',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.64',
    body: { server_group: { name: 'g', policies: ['affinity'] } },
  },
  {
    what: 'rules with affinity',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.64',
    body: { server_group: { name: 'g', policy: 'affinity', rules: { max_server_per_host: 2 } } },
  },
  {
    what: 'a rule below 1',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.64',
    body: {
      server_group: { name: 'g', policy: 'anti-affinity', rules: { max_server_per_host: 0 } },
    },
  },
  {
    what: 'an unknown rule',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.64',
    body: { server_group: { name: 'g', policy: 'anti-affinity', rules: { other: 1 } } },
  },
  {
    what: 'an unknown field',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: 'g', policies: ['affinity'], colour: 'red' } },
  },
  {
    what: 'a microversion above the maximum',
    method: 'GET',
    route: '/os-server-groups',
    microversion: '2.999',
  },
  {
    what: 'a group that does not exist',
    method: 'GET',
    route: `/os-server-groups/${randomUUID()}`,
    microversion: '2.1',
  },
  {
    what: 'deleting a group that does not exist',
    method: 'DELETE',
    route: `/os-server-groups/${randomUUID()}`,
    microversion: '2.1',
  },
  {
    what: 'a negative limit',
    method: 'GET',
    route: '/os-server-groups?limit=-1',
    microversion: '2.1',
  },
  {
    what: 'an unknown query parameter at 2.75',
    method: 'GET',
    route: '/os-server-groups?colour=red',
    microversion: '2.75',
  },
  {
    what: 'all_projects for a non-admin',
    method: 'GET',
    route: '/os-server-groups?all_projects=True',
    microversion: '2.1',
  },
  {
    what: 'a quota below -1',
    method: 'PUT',
    route: '/os-quota-sets/some-project',
    microversion: '2.1',
    body: { quota_set: { server_groups: -2 } },
    caller: 'admin',
  },
  {
    what: 'a quota set by a non-admin',
    method: 'PUT',
    route: '/os-quota-sets/some-project',
    microversion: '2.1',
    body: { quota_set: { server_groups: 5 } },
  },
  {
    what: 'an unknown quota at 2.57',
    method: 'PUT',
    route: '/os-quota-sets/some-project',
    microversion: '2.57',
    body: { quota_set: { injected_files: 5 } },
    caller: 'admin',
  },
  {
    what: 'a method the resource does not have',
    method: 'PUT',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: 'g' } },
  },
  {
    what: 'HEAD, which Nova routes nowhere',
    method: 'HEAD',
    route: '/os-server-groups',
    microversion: '2.1',
  },
  {
    what: 'a route that does not exist',
    method: 'GET',
    route: '/os-server-groupz',
    microversion: '2.1',
  },
  {
    what: 'an id that is no uuid',
    method: 'GET',
    route: '/os-server-groups/not-a-uuid',
    microversion: '2.1',
  },
  {
    what: 'a body that is not an object',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: ['server_group'],
  },
  {
    what: 'a name of spaces only',
    method: 'POST',
    route: '/os-server-groups',
    microversion: '2.1',
    body: { server_group: { name: '   ', policies: ['affinity'] } },
  },
  {
    what: 'limits of another project for a non-admin',
    method: 'GET',
    route: '/limits?tenant_id=other',
    microversion: '2.1',
  },
  {
    what: 'an unknown parameter of limits at 2.75',
    method: 'GET',
    route: '/limits?colour=red',
    microversion: '2.75',
  },
  {
    what: 'quota defaults',
    method: 'GET',
    route: '/os-quota-sets/some-project/defaults',
    microversion: '2.1',
  },
  {
    what: 'an offset that is no number',
    method: 'GET',
    route: '/os-server-groups?offset=x',
    microversion: '2.1',
  },
];

/**
 * What Nova refuses, cellgroups refuses with the same status and the same
 * body, byte for byte in its JSON: bad bodies, bad microversions, missing
 * groups, bad query parameters and quota updates, against the real Nova.
 */
describeNova('faults alike through both APIs', () => {
  let api: CellgroupsApi;
  const owner: Caller = { user: 'alice', project: `faults-${randomUUID().slice(0, 8)}` };
  const admin: Caller = { user: 'admin', project: 'admin' };

  beforeAll(async () => {
    api = await startCellgroupsApi();
  });

  afterAll(async () => {
    await api.stop();
  });

  // webob renders the router's 404 as HTML, JSON or plain text, after the Accept header.
  for (const accept of [
    null,
    'application/json',
    'text/html',
    '*/*',
    'text/plain',
    'application/xml',
    '',
    'application/json;q=0.5, text/plain',
    '*/*;q=0.1, application/json',
  ]) {
    it(`an unrouted request with Accept ${JSON.stringify(accept)} gets webob's page in the same form`, async () => {
      for (const [method, route] of [
        ['GET', '/os-server-groupz'],
        ['PUT', '/os-server-groups'],
        ['HEAD', '/os-server-groups'],
      ] as const) {
        const options = { ...owner, microversion: '2.1', accept };
        const [nova, ours] = await Promise.all([
          novaApi(method, route, options),
          computeRequest(api.base, method, route, options),
        ]);
        const form = (answer: typeof nova) => ({
          status: answer.status,
          contentType: answer.headers.get('content-type'),
          body: answer.body,
        });
        expect({ method, ...form(ours) }).toEqual({ method, ...form(nova) });
      }
    });
  }

  it('an unrouted request with no Accept header at all gets plain text from both', async () => {
    // fetch always sends an Accept header: node:http sends none unless told.
    const bare = (base: string) =>
      new Promise<{ status: number | undefined; type: string | undefined; body: string }>(
        (resolve, reject) => {
          const url = new URL(`${base}/v2.1/os-server-groupz`);
          const request = http.request(
            url,
            { headers: { 'X-Auth-Token': `${owner.user}:${owner.project}` } },
            (response) => {
              let body = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => (body += chunk));
              response.on('end', () => {
                resolve({
                  status: response.statusCode,
                  type: response.headers['content-type'],
                  body,
                });
              });
            },
          );
          request.on('error', reject);
          request.end();
        },
      );
    const [theirs, ours] = await Promise.all([bare(nova().apiUrl), bare(api.base)]);
    expect(theirs.type).toBe('text/plain; charset=UTF-8');
    expect(ours).toEqual(theirs);
  });

  for (const c of CASES) {
    it(c.what, async () => {
      const route = c.route.replace('some-project', owner.project);
      const caller = c.caller === 'admin' ? admin : owner;
      const [nova, ours] = await api.both(c.method, route, caller, c.microversion, c.body);
      expect({ status: ours.status, body: ours.body }).toEqual({
        status: nova.status,
        body: nova.body,
      });
    });
  }
});
