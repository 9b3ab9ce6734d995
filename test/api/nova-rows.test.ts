import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config/load.js';
import { latestVersion } from '../../src/db/migrations/migrator.js';
import { createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine } from '../support/engines.js';

/**
 * Rows as Nova writes them, answers as Nova gives them: the rules text of
 * instance_group_policy (nova/objects/instance_group.py: a dict of strings,
 * json.dumps'd; read back as an integer), and a group's members as
 * `_get_not_deleted` (nova/api/openstack/compute/server_groups.py) lists them.
 */
forEachEngine((engine) => {
  describe('rows as Nova writes them', () => {
    let cloud: TestCloud;
    let app: FastifyInstance;
    beforeAll(async () => {
      // Cells at the latest schema: their instances have Nova's `hidden`.
      cloud = await createCloud(
        engine,
        [engine, engine],
        {},
        { cellSchema: latestVersion('cell') },
      );
      app = buildApp({ config: loadConfig({ env: {} }), groups: cloud.service });
    });
    afterAll(async () => {
      await app.close();
      await cloud.destroy();
    });

    const call = async (
      method: 'GET' | 'POST',
      url: string,
      version: string,
      token = 'alice:p1',
      body?: unknown,
    ) => {
      const response = await app.inject({
        method,
        url: `/v2.1${url}`,
        headers: {
          'x-auth-token': token,
          'openstack-api-version': `compute ${version}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      return { status: response.statusCode, body: response.json<unknown>() };
    };
    const create = async (version: string, group: Record<string, unknown>) => {
      const answer = await call('POST', '/os-server-groups', version, 'alice:p1', {
        server_group: { name: 'g', ...group },
      });
      expect(answer.status).toBe(200);
      return (answer.body as { server_group: { id: string; rules?: unknown } }).server_group;
    };
    const storedRules = async (uuid: string) => {
      const rows = await cloud.api.db
        .selectFrom('instance_group_policy as p')
        .innerJoin('instance_groups as g', 'g.id', 'p.group_id')
        .select('p.rules')
        .where('g.uuid', '=', uuid)
        .execute();
      return rows.map((r) => r.rules);
    };
    const shown = async (uuid: string, version: string, token = 'alice:p1') =>
      (
        (await call('GET', `/os-server-groups/${uuid}`, version, token)).body as {
          server_group: Record<string, unknown>;
        }
      ).server_group;

    describe('rules', () => {
      it.each([
        [{ max_server_per_host: 2 }, '{"max_server_per_host": "2"}'],
        [{ max_server_per_host: '3' }, '{"max_server_per_host": "3"}'],
        [{}, '{}'],
      ])('a 2.64 create with rules %j stores %s, and answers the integer', async (rules, text) => {
        const created = await create('2.64', { policy: 'anti-affinity', rules });
        expect(await storedRules(created.id)).toEqual([text]);
        const want =
          'max_server_per_host' in rules
            ? { max_server_per_host: Number(Object.values(rules)[0]) }
            : {};
        expect(created.rules).toEqual(want);
        expect((await shown(created.id, '2.64')).rules).toEqual(want);
      });

      it('a 2.64 create without rules stores {}, as Nova', async () => {
        const created = await create('2.64', { policy: 'affinity' });
        expect(await storedRules(created.id)).toEqual(['{}']);
        expect(created.rules).toEqual({});
      });

      it.each(['2.1', '2.15'])('a %s create stores NULL rules, as Nova', async (version) => {
        const created = await create(version, { policies: ['anti-affinity'] });
        expect(await storedRules(created.id)).toEqual([null]);
        expect((await shown(created.id, '2.64')).rules).toEqual({});
      });

      it('reads the rows Nova wrote', async () => {
        const rules: (string | null)[] = [
          '{"max_server_per_host": "2"}',
          '{"max_server_per_host": "10"}',
          '{}',
          null,
          // Written by nothing but Nova's int() reads it: an integer, an unknown key.
          '{"max_server_per_host": 4, "other": "x"}',
        ];
        const uuids: string[] = [];
        for (const [i, text] of rules.entries()) {
          const uuid = `0ba5e000-0000-4000-8000-00000000000${i}`;
          uuids.push(uuid);
          const id = await cloud.api.engine.insertReturningId(
            cloud.api.db.insertInto('instance_groups').values({
              uuid,
              name: `nova-${i}`,
              user_id: 'alice',
              project_id: 'p1',
              created_at: new Date(),
            }),
          );
          await cloud.api.db
            .insertInto('instance_group_policy')
            .values({ group_id: id, policy: 'anti-affinity', rules: text, created_at: new Date() })
            .execute();
        }
        const answers = await Promise.all(uuids.map((u) => shown(u, '2.64')));
        expect(answers.map((g) => g.rules)).toEqual([
          { max_server_per_host: 2 },
          { max_server_per_host: 10 },
          {},
          {},
          { max_server_per_host: 4 },
        ]);
        const old = await shown(uuids[0] ?? '', '2.63');
        expect(old).toMatchObject({ policies: ['anti-affinity'], metadata: {} });
        expect(old).not.toHaveProperty('rules');
      });
    });

    describe('members', () => {
      const u = (n: number) => `5e5e0000-0000-4000-8000-00000000000${n}`;
      const at = (hour: number) => new Date(Date.UTC(2025, 0, 1, hour));
      let uuid: string;
      beforeAll(async () => {
        const [c0, c1] = cloud.cells;
        if (!c0 || !c1) throw new Error('two cells expected');
        // Listed out of uuid order, so that the group's own order shows if it leaks through.
        const group = await cloud.service.create(
          { userId: 'alice', projectId: 'p1', isAdmin: false },
          { name: 'members', policy: 'anti-affinity', members: [5, 1, 3, 2, 4, 6, 8, 7, 9].map(u) },
        );
        uuid = group.uuid;
        const mapping = (n: number, cellId: number | null, projectId = 'p1') => ({
          instance_uuid: u(n),
          cell_id: cellId,
          project_id: projectId,
          user_id: projectId === 'p1' ? 'alice' : 'bob',
        });
        await cloud.api.db
          .insertInto('instance_mappings')
          .values([
            mapping(1, c1.mapping.id),
            mapping(2, c0.mapping.id),
            mapping(3, c1.mapping.id),
            mapping(4, c1.mapping.id, 'p2'),
            mapping(5, null, 'p2'), // being scheduled: shown to all, as Nova
            mapping(6, c0.mapping.id),
            mapping(7, c0.mapping.id),
            mapping(8, c0.mapping.id),
            mapping(9, c1.mapping.id),
          ])
          .execute();
        const instance = (
          n: number,
          hour: number,
          projectId = 'p1',
          vmState = 'active',
          hidden = false,
        ) => ({
          uuid: u(n),
          hidden,
          host: 'h',
          project_id: projectId,
          user_id: projectId === 'p1' ? 'alice' : 'bob',
          vm_state: vmState,
          created_at: at(hour),
        });
        await c1.db.db
          .insertInto('instances')
          // 9: the copy a cross-cell resize left behind, hidden from every query Nova makes.
          .values([
            instance(1, 10),
            instance(3, 11),
            instance(4, 12, 'p2'),
            instance(9, 13, 'p1', 'active', true),
          ])
          .execute();
        // 8 after 2 at the same time: the higher id comes first.
        for (const row of [instance(7, 9), instance(2, 10), instance(6, 11, 'p1', 'soft-delete')])
          await c0.db.db.insertInto('instances').values(row).execute();
        await c0.db.db.insertInto('instances').values(instance(8, 10)).execute();
      });

      // Nova: unscheduled first; then the cells in the order their first mapping (by uuid)
      // names them (u1: cell1, u2: cell0); each cell newest first, then highest id.
      const ALL = [5, 4, 3, 1, 8, 2, 7].map((n) => u(n));
      const P1 = [5, 3, 1, 8, 2, 7].map((n) => u(n));

      it("an admin sees every live member, in Nova's order", async () => {
        expect((await shown(uuid, '2.64', 'admin:admin')).members).toEqual(ALL);
        const listed = await call('GET', '/os-server-groups?all_projects=1', '2.64', 'admin:admin');
        const groups = (listed.body as { server_groups: { id: string; members: string[] }[] })
          .server_groups;
        expect(groups.find((g) => g.id === uuid)?.members).toEqual(ALL);
      });

      it("the owner's project sees only its own instances (and those being scheduled)", async () => {
        expect((await shown(uuid, '2.64')).members).toEqual(P1);
        expect((await shown(uuid, '2.1')).members).toEqual(P1);
        const listed = await call('GET', '/os-server-groups', '2.64');
        const groups = (listed.body as { server_groups: { id: string; members: string[] }[] })
          .server_groups;
        expect(groups.find((g) => g.id === uuid)?.members).toEqual(P1);
      });
    });
  });
});
