import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';

/**
 * os-quota-sets and /limits beyond the captured exchanges (77-79 are
 * replayed in server-groups.test.ts): overrides per project and per user,
 * who may do what, the checks of an update, and the overrides applied by
 * create. Each test uses its own project.
 */
forEachEngine((engine) => {
  describe('os-quota-sets and limits', () => {
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

    const call = (
      method: 'GET' | 'PUT' | 'DELETE' | 'POST',
      url: string,
      token: string,
      options: { version?: string; body?: unknown } = {},
    ): Promise<LightMyRequestResponse> =>
      app.inject({
        method,
        url: `/v2.1${url}`,
        headers: {
          'x-auth-token': token,
          'openstack-api-version': `compute ${options.version ?? '2.1'}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
      });
    const createGroup = (token: string, name: string) =>
      call('POST', '/os-server-groups', token, {
        body: { server_group: { name, policies: ['affinity'] } },
      });
    const quotaSet = (r: LightMyRequestResponse) =>
      r.json<{ quota_set: Record<string, unknown> }>().quota_set;
    const fault = (code: number, key: string, message: string) => ({
      [key]: { code, message },
    });

    it('an admin sets a project limit; show, detail, limits and create all follow it', async () => {
      const put = await call('PUT', '/os-quota-sets/p-raise', 'admin:admin', {
        body: { quota_set: { server_groups: 12, server_group_members: '3' } },
      });
      expect(put.statusCode).toBe(200);
      expect(quotaSet(put)).not.toHaveProperty('id');
      expect(quotaSet(put)).toMatchObject({
        server_groups: 12,
        server_group_members: 3,
        cores: 20,
      });

      const show = await call('GET', '/os-quota-sets/p-raise', 'u1:p-raise');
      expect(quotaSet(show)).toMatchObject({ id: 'p-raise', server_groups: 12 });
      for (let i = 0; i < 11; i++)
        expect((await createGroup('u1:p-raise', `g${i}`)).statusCode).toBe(200);
      // A group not yet migrated counts too.
      const [cell] = cloud.cells;
      if (!cell) throw new Error('a cell expected');
      await insertLegacyGroups(cell.db.db, [{ projectId: 'p-raise', userId: 'u1' }]);
      const over = await createGroup('u1:p-raise', 'thirteenth');
      expect(over.statusCode).toBe(403);
      expect(over.json()).toEqual(
        fault(403, 'forbidden', 'Quota exceeded, too many server groups.'),
      );

      const detail = await call('GET', '/os-quota-sets/p-raise/detail', 'u1:p-raise');
      expect(quotaSet(detail).server_groups).toEqual({ limit: 12, in_use: 12, reserved: 0 });
      const limits = await call('GET', '/limits', 'u1:p-raise');
      expect(limits.json()).toMatchObject({
        limits: {
          absolute: { maxServerGroups: 12, maxServerGroupMembers: 3, totalServerGroupsUsed: 12 },
        },
      });
    });

    it('a user limit caps one user of a project, within what the project has left to give', async () => {
      const asAdmin = { body: { quota_set: { server_groups: 1 } } };
      const put = await call('PUT', '/os-quota-sets/p-user?user_id=bob', 'admin:admin', asAdmin);
      expect(put.statusCode).toBe(200);
      expect(quotaSet(put).server_groups).toBe(1);
      expect((await createGroup('bob:p-user', 'first')).statusCode).toBe(200);
      expect((await createGroup('bob:p-user', 'second')).statusCode).toBe(403);
      // The project's other users keep the project's limit.
      expect((await createGroup('carol:p-user', 'hers')).statusCode).toBe(200);

      const bob = await call('GET', '/os-quota-sets/p-user/detail?user_id=bob', 'bob:p-user');
      expect(quotaSet(bob).server_groups).toEqual({ limit: 1, in_use: 1, reserved: 0 });
      const project = await call('GET', '/os-quota-sets/p-user/detail', 'bob:p-user');
      expect(quotaSet(project).server_groups).toEqual({ limit: 10, in_use: 2, reserved: 0 });

      // The project has 10, bob holds 1 of them: bob may get at most 10 - 1 + 1.
      const tooMuch = await call('PUT', '/os-quota-sets/p-user?user_id=bob', 'admin:admin', {
        body: { quota_set: { server_groups: 11 } },
      });
      expect(tooMuch.statusCode).toBe(400);
      expect(tooMuch.json()).toEqual(
        fault(
          400,
          'badRequest',
          'Quota limit 11 for server_groups must be less than or equal to 10.',
        ),
      );
      // Nor may the project go below what its users were given.
      const below = await call('PUT', '/os-quota-sets/p-user', 'admin:admin', {
        body: { quota_set: { server_groups: 0 } },
      });
      expect(below.json()).toEqual(
        fault(
          400,
          'badRequest',
          'Quota limit 0 for server_groups must be greater than or equal to already used and reserved 2.',
        ),
      );

      // Deleting the user's limits gives bob the project's again.
      const reset = await call('DELETE', '/os-quota-sets/p-user?user_id=bob', 'admin:admin');
      expect(reset.statusCode).toBe(202);
      expect(reset.body).toBe('');
      expect((await createGroup('bob:p-user', 'second')).statusCode).toBe(200);
    });

    it('a limit below what is in use is refused unless forced; a forced one is enforced', async () => {
      for (const name of ['a', 'b', 'c']) await createGroup('u1:p-force', name);
      const refused = await call('PUT', '/os-quota-sets/p-force', 'admin:admin', {
        body: { quota_set: { server_groups: 2 } },
      });
      expect(refused.json()).toEqual(
        fault(
          400,
          'badRequest',
          'Quota limit 2 for server_groups must be greater than or equal to already used and reserved 3.',
        ),
      );
      const forced = await call('PUT', '/os-quota-sets/p-force', 'admin:admin', {
        body: { quota_set: { server_groups: '2', force: 'True' } },
      });
      expect(forced.statusCode).toBe(200);
      expect((await createGroup('u1:p-force', 'd')).statusCode).toBe(403);
      // Unlimited.
      await call('PUT', '/os-quota-sets/p-force', 'admin:admin', {
        body: { quota_set: { server_groups: -1 } },
      });
      expect((await createGroup('u1:p-force', 'd')).statusCode).toBe(200);
      // Deleting the project's limits brings the defaults back.
      expect((await call('DELETE', '/os-quota-sets/p-force', 'admin:admin')).statusCode).toBe(202);
      const show = await call('GET', '/os-quota-sets/p-force', 'admin:admin');
      expect(quotaSet(show).server_groups).toBe(10);
    });

    it('only an admin changes limits; only the owner or an admin reads them', async () => {
      const update = await call('PUT', '/os-quota-sets/p-auth', 'u1:p-auth', {
        body: { quota_set: { server_groups: 50 } },
      });
      expect(update.statusCode).toBe(403);
      expect(update.json()).toEqual(
        fault(
          403,
          'forbidden',
          "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
        ),
      );
      const other = await call('GET', '/os-quota-sets/p-auth', 'u2:elsewhere');
      expect(other.json()).toEqual(
        fault(
          403,
          'forbidden',
          "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.",
        ),
      );
      expect((await call('GET', '/os-quota-sets/p-auth/detail', 'u2:elsewhere')).statusCode).toBe(
        403,
      );
      expect((await call('DELETE', '/os-quota-sets/p-auth', 'u1:p-auth')).statusCode).toBe(403);
      // Anyone may read the defaults, and another project's limits need an admin.
      const defaults = await call('GET', '/os-quota-sets/p-auth/defaults', 'u2:elsewhere');
      expect(quotaSet(defaults)).toMatchObject({ id: 'p-auth', server_groups: 10, instances: 10 });
      const limits = await call('GET', '/limits?tenant_id=p-auth', 'u2:elsewhere');
      expect(limits.json()).toEqual(
        fault(
          403,
          'forbidden',
          "Policy doesn't allow os_compute_api:limits:other_project to be performed.",
        ),
      );
      const asAdmin = await call('GET', '/limits?tenant_id=p-auth', 'admin:admin');
      expect(asAdmin.statusCode).toBe(200);
      // Nothing was changed by the refused calls.
      expect(quotaSet(await call('GET', '/os-quota-sets/p-auth', 'u1:p-auth')).server_groups).toBe(
        10,
      );
    });

    it("bad bodies are refused with the words of Nova's schema, and change nothing", async () => {
      const cases: [unknown, string, string?][] = [
        [
          { quota_set: { server_groups: 'ten' } },
          "Invalid input for field/attribute server_groups. Value: ten. 'ten' does not match '^-?[0-9]+$'",
        ],
        [
          { quota_set: { server_groups: -2 } },
          'Invalid input for field/attribute server_groups. Value: -2. -2 is less than the minimum of -1',
        ],
        [
          { quota_set: { server_groups: 1.5 } },
          "Invalid input for field/attribute server_groups. Value: 1.5. 1.5 is not of type 'integer', 'string'",
        ],
        [
          { quota_set: { servers: 3 } },
          "Invalid input for field/attribute quota_set. Value: {'servers': 3}. Additional properties are not allowed ('servers' was unexpected)",
        ],
        [
          { quota_set: { force: 'maybe' } },
          "Invalid input for field/attribute force. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
        ],
        [{ server_groups: 3 }, "'quota_set' is a required property"],
        [
          { quota_set: { server_groups: '99999999999' } },
          // Nova's validator applies the bounds to a string of digits too.
          'Invalid input for field/attribute server_groups. Value: 99999999999. 99999999999 is greater than the maximum of 2147483647',
        ],
        [
          { quota_set: { server_groups: '-2' } },
          'Invalid input for field/attribute server_groups. Value: -2. -2 is less than the minimum of -1',
        ],
        [
          { quota_set: { fixed_ips: 3 } },
          "Invalid input for field/attribute quota_set. Value: {'fixed_ips': 3}. Additional properties are not allowed ('fixed_ips' was unexpected)",
          '2.36',
        ],
        [
          { quota_set: { injected_files: 3 } },
          "Invalid input for field/attribute quota_set. Value: {'injected_files': 3}. Additional properties are not allowed ('injected_files' was unexpected)",
          '2.57',
        ],
      ];
      for (const [body, message, version] of cases) {
        const answer = await call('PUT', '/os-quota-sets/p-bad', 'admin:admin', {
          body,
          ...(version ? { version } : {}),
        });
        expect(
          { status: answer.statusCode, body: answer.json<unknown>() },
          JSON.stringify(body),
        ).toEqual({
          status: 400,
          body: fault(400, 'badRequest', message),
        });
      }
      const rows = await cloud.api.db
        .selectFrom('quotas')
        .selectAll()
        .where('project_id', '=', 'p-bad')
        .execute();
      expect(rows).toEqual([]);
    });

    it('shows what each microversion shows, and refuses unknown parameters from 2.75', async () => {
      const keys = async (version: string) =>
        Object.keys(quotaSet(await call('GET', '/os-quota-sets/p-mv', 'u1:p-mv', { version })));
      expect(await keys('2.35')).toContain('fixed_ips');
      expect(await keys('2.36')).not.toContain('fixed_ips');
      expect(await keys('2.36')).toContain('injected_files');
      expect(await keys('2.57')).toEqual([
        'id',
        'cores',
        'instances',
        'key_pairs',
        'metadata_items',
        'ram',
        'server_group_members',
        'server_groups',
      ]);
      const absolute = async (version: string) =>
        Object.keys(
          (await call('GET', '/limits', 'u1:p-mv', { version })).json<{
            limits: { absolute: Record<string, number> };
          }>().limits.absolute,
        );
      expect(await absolute('2.36')).not.toContain('maxSecurityGroups');
      expect(await absolute('2.38')).toContain('maxImageMeta');
      expect(await absolute('2.39')).not.toContain('maxImageMeta');
      expect(await absolute('2.57')).toEqual([
        'maxTotalInstances',
        'maxTotalCores',
        'maxTotalRAMSize',
        'maxServerMeta',
        'maxTotalKeypairs',
        'maxServerGroups',
        'maxServerGroupMembers',
        'totalRAMUsed',
        'totalCoresUsed',
        'totalInstancesUsed',
        'totalServerGroupsUsed',
      ]);
      expect(
        (await call('GET', '/os-quota-sets/p-mv?foo=1', 'u1:p-mv', { version: '2.74' })).statusCode,
      ).toBe(200);
      const strict = await call('GET', '/os-quota-sets/p-mv?foo=1', 'u1:p-mv', { version: '2.75' });
      expect(strict.json()).toEqual(
        fault(400, 'badRequest', "Additional properties are not allowed ('foo' was unexpected)"),
      );
      expect((await call('GET', '/limits?bar=2', 'u1:p-mv', { version: '2.75' })).statusCode).toBe(
        400,
      );
    });

    it('a path naming another project than the token is refused, admins included, as in Nova', async () => {
      for (const [method, url, token] of [
        ['GET', '/p-path/os-server-groups', 'u1:elsewhere'],
        ['GET', '/p-path/limits', 'admin:admin'],
        ['PUT', '/p-path/os-quota-sets/p-path', 'admin:admin'],
      ] as const) {
        const answer = await call(method, url, token, {
          ...(method === 'PUT' ? { body: { quota_set: { server_groups: 1 } } } : {}),
        });
        const project = token.split(':')[1] ?? '';
        expect(answer.json(), url).toEqual(
          fault(
            400,
            'badRequest',
            `Malformed request URL: URL's project_id 'p-path' doesn't match Context's project_id '${project}'`,
          ),
        );
      }
      const own = await call('GET', '/p-path/os-quota-sets/p-path', 'u1:p-path');
      expect(own.statusCode).toBe(200);
    });

    it('the default quota class, where an operator set one, comes before [quota]', async () => {
      await cloud.api.db
        .insertInto('quota_classes')
        .values({ class_name: 'default', resource: 'server_groups', hard_limit: 4 })
        .execute();
      try {
        const show = await call('GET', '/os-quota-sets/p-class/defaults', 'u1:p-class');
        expect(quotaSet(show).server_groups).toBe(4);
        for (let i = 0; i < 4; i++) await createGroup('u1:p-class', `g${i}`);
        expect((await createGroup('u1:p-class', 'fifth')).statusCode).toBe(403);
      } finally {
        await cloud.api.db.deleteFrom('quota_classes').execute();
      }
    });
  });
});
