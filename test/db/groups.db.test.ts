import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestContext, type RequestContext } from '../../src/context.js';
import { CellUnavailable, GroupInCell, GroupNotFound, InvalidInput } from '../../src/errors.js';
import type { InstanceGroup } from '../../src/groups/group.js';
import { apiStoreForTests } from '../support/api-groups.js';
import { blackhole, createCloud, type TestCloud } from '../support/cloud.js';
import { forEachEngine, testEngines, type TestEngine } from '../support/engines.js';
import { insertLegacyGroups } from '../support/legacy.js';

const alice: RequestContext = requestContext('alice', 'p1');
const bob: RequestContext = requestContext('bob', 'p2');
const admin: RequestContext = requestContext('admin', 'admin', true);

const at = (seconds: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, seconds));
const uuids = (groups: readonly InstanceGroup[]) => groups.map((g) => g.uuid);

function suite(label: string, apiEngine: TestEngine, cellEngines: () => TestEngine[]) {
  describe(label, () => {
    let cloud: TestCloud;
    beforeEach(async () => {
      cloud = await createCloud(apiEngine, cellEngines(), { fanOut: { timeoutMs: 3_000 } });
    });
    afterEach(async () => {
      await cloud.destroy();
    });
    const cell = (i: number) => {
      const c = cloud.cells[i];
      if (!c) throw new Error(`no cell ${i}`);
      return c;
    };

    describe('create and get', () => {
      it('creates in the API database with policy, rules and members (each once)', async () => {
        const group = await cloud.service.create(alice, {
          name: 'web',
          policy: 'anti-affinity',
          rules: { max_server_per_host: 2 },
          members: ['i1', 'i2', 'i1'],
        });
        expect(group).toMatchObject({
          name: 'web',
          userId: 'alice',
          projectId: 'p1',
          policy: 'anti-affinity',
          rules: { max_server_per_host: 2 },
          members: ['i1', 'i2'],
          location: { kind: 'api' },
        });
        expect(group.createdAt).toBeInstanceOf(Date);
        expect(await cloud.service.get(alice, group.uuid)).toEqual(group);
      });

      it('refuses a bad policy or rule', async () => {
        await expect(cloud.service.create(alice, { name: 'x', policy: 'spread' })).rejects.toThrow(
          InvalidInput,
        );
        await expect(
          cloud.service.create(alice, {
            name: 'x',
            policy: 'affinity',
            rules: { max_server_per_host: 2 },
          }),
        ).rejects.toThrow(/Only the anti-affinity policy takes rules/);
        await expect(
          cloud.service.create(alice, {
            name: 'x',
            policy: 'anti-affinity',
            rules: { max_server_per_host: 0 },
          }),
        ).rejects.toThrow(/positive integer/);
        // Longer than its column: refused, not cut by a server out of strict mode.
        await expect(
          cloud.service.create(alice, { name: 'n'.repeat(256), policy: 'affinity' }),
        ).rejects.toThrow('The name of a group is at most 255 characters long.');
      });

      it('refuses a uuid that a cell still holds, saying to migrate it', async () => {
        const [uuid = ''] = await insertLegacyGroups(cell(1).db.db, [{ projectId: 'p1' }]);
        const attempt = cloud.service.create(alice, { uuid, name: 'dup', policy: 'affinity' });
        await expect(attempt).rejects.toThrow(GroupInCell);
        await expect(attempt).rejects.toThrow(/cell2.*online_data_migrations/);
        expect((await cloud.service.list(admin, { allProjects: true })).groups).toHaveLength(1);
      });

      it('reads a group only in a cell as the new model', async () => {
        const [uuid = ''] = await insertLegacyGroups(cell(0).db.db, [
          {
            name: 'legacy',
            projectId: 'p1',
            userId: 'alice',
            policies: ['affinity', 'anti-affinity'],
            members: ['i1', 'i2', 'i1', 'i3', 'i2'],
            createdAt: at(5),
          },
        ]);
        const group = await cloud.service.get(alice, uuid);
        expect(group).toMatchObject({
          uuid,
          name: 'legacy',
          policy: 'affinity',
          rules: {},
          members: ['i1', 'i2', 'i3'],
          createdAt: at(5),
          location: { kind: 'cell', cellUuid: cell(0).mapping.uuid, cellName: 'cell1' },
        });
      });

      it('prefers the API copy of a group in both databases (a crash mid-migration)', async () => {
        const inApi = await cloud.service.create(alice, { name: 'api-copy', policy: 'affinity' });
        await insertLegacyGroups(cell(0).db.db, [
          { uuid: inApi.uuid, name: 'stale-copy', projectId: 'p1' },
        ]);
        expect(await cloud.service.get(alice, inApi.uuid)).toMatchObject({
          name: 'api-copy',
          location: { kind: 'api' },
        });
        const listed = (await cloud.service.list(alice)).groups;
        expect(listed.filter((g) => g.uuid === inApi.uuid)).toEqual([
          expect.objectContaining({ name: 'api-copy' }),
        ]);
        expect((await cloud.service.countGroups({ projectId: 'p1' })).count).toBe(1);
      });

      it('never shows a soft-deleted cell group', async () => {
        const [gone = ''] = await insertLegacyGroups(cell(0).db.db, [
          { projectId: 'p1', deleted: true, members: ['i9'] },
        ]);
        await expect(cloud.service.get(alice, gone)).rejects.toThrow(GroupNotFound);
        expect((await cloud.service.list(alice)).groups).toEqual([]);
        expect((await cloud.service.countGroups({ projectId: 'p1' })).count).toBe(0);
        await expect(cloud.service.getByInstance(alice, 'i9')).rejects.toThrow(GroupNotFound);
      });

      it('finds by name, by instance and by hint, API first, then the cells', async () => {
        const inApi = await cloud.service.create(alice, {
          name: 'both-names',
          policy: 'affinity',
          members: ['a1'],
        });
        const [inCell = ''] = await insertLegacyGroups(cell(1).db.db, [
          { name: 'cell-only', projectId: 'p1', members: ['c1'] },
          { name: 'both-names', projectId: 'p1' },
        ]);
        expect((await cloud.service.getByName(alice, 'both-names')).uuid).toBe(inApi.uuid);
        expect((await cloud.service.getByName(alice, 'cell-only')).uuid).toBe(inCell);
        await expect(cloud.service.getByName(bob, 'cell-only')).rejects.toThrow(GroupNotFound);
        expect((await cloud.service.getByInstance(alice, 'a1')).uuid).toBe(inApi.uuid);
        expect((await cloud.service.getByInstance(alice, 'c1')).uuid).toBe(inCell);
        expect((await cloud.service.getByHint(alice, inCell)).name).toBe('cell-only');
        expect((await cloud.service.getByHint(alice, 'cell-only')).uuid).toBe(inCell);
        await expect(cloud.service.getByHint(alice, 'no-such-name')).rejects.toThrow(GroupNotFound);
      });
    });

    describe('writes act on the authoritative copy', () => {
      it('saves, adds and removes members on an API copy, without duplicate rows', async () => {
        const group = await cloud.service.create(alice, {
          name: 'g',
          policy: 'affinity',
          members: ['i1'],
        });
        const saved = await cloud.service.save(alice, group.uuid, {
          name: 'renamed',
          policy: 'anti-affinity',
          rules: { max_server_per_host: 3 },
          members: ['i2', 'i3'],
        });
        expect(saved).toMatchObject({
          name: 'renamed',
          policy: 'anti-affinity',
          rules: { max_server_per_host: 3 },
          members: ['i2', 'i3'],
        });
        expect(saved.updatedAt).toBeInstanceOf(Date);
        await cloud.service.addMembers(alice, group.uuid, ['i3', 'i4', 'i4']);
        await cloud.service.addMembers(alice, group.uuid, ['i4']);
        expect((await cloud.service.removeMembers(alice, group.uuid, ['i2'])).members).toEqual([
          'i3',
          'i4',
        ]);
        expect(await apiStoreForTests.memberRows(cloud.api, group.uuid)).toEqual(['i3', 'i4']);
      });

      it('saves, adds and removes members on a cell copy (legacy rows, soft delete)', async () => {
        const [uuid = ''] = await insertLegacyGroups(cell(0).db.db, [
          { projectId: 'p1', policies: ['affinity', 'soft-affinity'], members: ['i1', 'i1'] },
        ]);
        const saved = await cloud.service.save(alice, uuid, {
          name: 'renamed',
          policy: 'anti-affinity',
        });
        expect(saved).toMatchObject({
          name: 'renamed',
          policy: 'anti-affinity',
          location: { kind: 'cell' },
        });
        await expect(
          cloud.service.save(alice, uuid, { rules: { max_server_per_host: 2 } }),
        ).rejects.toThrow(/legacy schema has no rules/);
        await cloud.service.addMembers(alice, uuid, ['i1', 'i2', 'i2']);
        expect((await cloud.service.get(alice, uuid)).members).toEqual(['i1', 'i2']);
        const liveRows = await cell(0)
          .db.db.selectFrom('instance_group_member')
          .select('instance_id')
          .where('deleted', '=', 0)
          .execute();
        // The two old duplicate rows stay as they were; nothing new was added for i1.
        expect(liveRows.map((r) => r.instance_id).sort()).toEqual(['i1', 'i1', 'i2']);
        expect((await cloud.service.removeMembers(alice, uuid, ['i1'])).members).toEqual(['i2']);
        expect((await cloud.service.save(alice, uuid, { members: ['i5'] })).members).toEqual([
          'i5',
        ]);
      });

      it('destroys an API copy outright and soft-deletes a cell copy with its policies and members', async () => {
        const inApi = await cloud.service.create(alice, {
          name: 'a',
          policy: 'affinity',
          members: ['m'],
        });
        await cloud.service.destroy(alice, inApi.uuid);
        await expect(cloud.service.get(alice, inApi.uuid)).rejects.toThrow(GroupNotFound);
        expect(
          await cloud.api.db.selectFrom('instance_group_member').selectAll().execute(),
        ).toEqual([]);

        const [inCell = ''] = await insertLegacyGroups(cell(1).db.db, [
          { projectId: 'p1', members: ['x', 'y'] },
        ]);
        await cloud.service.destroy(alice, inCell);
        await expect(cloud.service.get(alice, inCell)).rejects.toThrow(GroupNotFound);
        const db = cell(1).db.db;
        const group = await db
          .selectFrom('instance_groups')
          .select(['id', 'deleted', 'deleted_at'])
          .executeTakeFirstOrThrow();
        expect(group.deleted).toBe(group.id);
        expect(group.deleted_at).toBeInstanceOf(Date);
        for (const table of ['instance_group_member', 'instance_group_policy'] as const) {
          const rows = await db.selectFrom(table).select(['id', 'deleted']).execute();
          expect(rows.length).toBeGreaterThan(0);
          for (const row of rows) expect(row.deleted).toBe(row.id);
        }
      });

      it('writes to the API copy of a group in both databases and leaves the stale cell copy alone', async () => {
        const inApi = await cloud.service.create(alice, { name: 'api', policy: 'affinity' });
        await insertLegacyGroups(cell(0).db.db, [
          { uuid: inApi.uuid, name: 'stale', projectId: 'p1' },
        ]);
        await cloud.service.save(alice, inApi.uuid, { name: 'new' });
        await cloud.service.addMembers(alice, inApi.uuid, ['i1']);
        expect(await cloud.service.get(alice, inApi.uuid)).toMatchObject({
          name: 'new',
          members: ['i1'],
        });
        const stale = await cell(0)
          .db.db.selectFrom('instance_groups')
          .select('name')
          .executeTakeFirstOrThrow();
        expect(stale.name).toBe('stale');
      });
    });

    describe('lists', () => {
      it('merges the API database and every cell in creation order, ties by id, with limit and offset', async () => {
        await insertLegacyGroups(cell(0).db.db, [
          { name: 'c1-t1', projectId: 'p1', createdAt: at(1) },
          { name: 'c1-t4', projectId: 'p1', createdAt: at(4) },
          { name: 'c1-t6', projectId: 'p1', createdAt: at(6) },
        ]);
        await insertLegacyGroups(cell(1).db.db, [
          { name: 'c2-t2', projectId: 'p1', createdAt: at(2) },
          { name: 'c2-t5', projectId: 'p1', createdAt: at(5) },
          { name: 'c2-t5b', projectId: 'p1', createdAt: at(5) },
          { name: 'other', projectId: 'p2', createdAt: at(3) },
        ]);
        // API groups get creation times after all of these (now), in creation order.
        await cloud.service.create(alice, { name: 'api-1', policy: 'affinity' });
        await cloud.service.create(alice, { name: 'api-2', policy: 'affinity' });
        const names = (groups: InstanceGroup[]) => groups.map((g) => g.name);
        const all = (await cloud.service.list(alice)).groups;
        expect(names(all)).toEqual([
          'c1-t1',
          'c2-t2',
          'c1-t4',
          'c2-t5',
          'c2-t5b',
          'c1-t6',
          'api-1',
          'api-2',
        ]);
        const pages: InstanceGroup[] = [];
        for (let offset = 0; offset < 10; offset += 3) {
          pages.push(...(await cloud.service.list(alice, { limit: 3, offset })).groups);
        }
        expect(uuids(pages)).toEqual(uuids(all));
        expect(names((await cloud.service.list(alice, { limit: 2, offset: 3 })).groups)).toEqual([
          'c2-t5',
          'c2-t5b',
        ]);
        expect((await cloud.service.list(alice, { limit: 5, offset: 100 })).groups).toEqual([]);
      });

      it('keeps pages full when API copies shadow cell copies (each uuid once, the API copy)', async () => {
        // Cell 1 holds five groups; the first three also have API copies (a crash mid-migration).
        const cellUuids = await insertLegacyGroups(
          cell(0).db.db,
          [1, 2, 3, 4, 5].map((s) => ({ name: `cell-${s}`, projectId: 'p1', createdAt: at(s) })),
        );
        for (const uuid of cellUuids.slice(0, 3))
          await apiStoreForTests.insertCopy(cloud.api, uuid, 'p1');
        const page = (await cloud.service.list(alice, { limit: 2, offset: 0 })).groups;
        expect(page.map((g) => g.location.kind)).toEqual(['cell', 'cell']);
        expect(page.map((g) => g.name)).toEqual(['cell-4', 'cell-5']);
        const all = (await cloud.service.list(alice)).groups;
        expect(all).toHaveLength(5);
        expect(new Set(uuids(all)).size).toBe(5);
        expect(all.filter((g) => g.location.kind === 'api')).toHaveLength(3);
      });

      it('shows a non-admin only their project, everywhere; an admin all projects when asked', async () => {
        await cloud.service.create(alice, { name: 'alice-api', policy: 'affinity' });
        await cloud.service.create(bob, { name: 'bob-api', policy: 'affinity' });
        const [bobCell = ''] = await insertLegacyGroups(cell(0).db.db, [
          { name: 'bob-cell', projectId: 'p2', userId: 'bob' },
        ]);
        await insertLegacyGroups(cell(1).db.db, [{ name: 'alice-cell', projectId: 'p1' }]);
        const names = async (ctx: RequestContext, allProjects?: boolean) =>
          (await cloud.service.list(ctx, allProjects === undefined ? {} : { allProjects })).groups
            .map((g) => g.name)
            .sort();
        expect(await names(alice)).toEqual(['alice-api', 'alice-cell']);
        expect(await names(alice, true)).toEqual(['alice-api', 'alice-cell']);
        expect(await names(bob)).toEqual(['bob-api', 'bob-cell']);
        expect(await names(admin)).toEqual([]);
        expect(await names(admin, true)).toEqual([
          'alice-api',
          'alice-cell',
          'bob-api',
          'bob-cell',
        ]);
        await expect(cloud.service.get(alice, bobCell)).rejects.toThrow(GroupNotFound);
        await expect(cloud.service.destroy(alice, bobCell)).rejects.toThrow(GroupNotFound);
        expect((await cloud.service.get(admin, bobCell)).name).toBe('bob-cell');
      });
    });

    describe('counts', () => {
      it('counts groups per project and per user, and members, over the union', async () => {
        const a = await cloud.service.create(alice, {
          name: 'a',
          policy: 'affinity',
          members: ['1', '2'],
        });
        await cloud.service.create(requestContext('carol', 'p1'), {
          name: 'c',
          policy: 'affinity',
        });
        await insertLegacyGroups(cell(0).db.db, [
          { projectId: 'p1', userId: 'alice' },
          { uuid: a.uuid, projectId: 'p1', userId: 'alice' }, // stale copy: not counted twice
          { projectId: 'p1', userId: 'alice', deleted: true },
        ]);
        const [legacy = ''] = await insertLegacyGroups(cell(1).db.db, [
          { projectId: 'p1', userId: 'carol', members: ['x', 'x', 'y'] },
        ]);
        expect((await cloud.service.countGroups({ projectId: 'p1' })).count).toBe(4);
        expect((await cloud.service.countGroups({ projectId: 'p1', userId: 'alice' })).count).toBe(
          2,
        );
        expect((await cloud.service.countGroups({ projectId: 'p2' })).count).toBe(0);
        expect(await cloud.service.countMembers(alice, a.uuid)).toBe(2);
        expect(await cloud.service.countMembers(alice, legacy)).toBe(2);
      });
    });

    describe('live members and hosts', () => {
      it('follows instance_mappings into the cells; unscheduled members are live without a host', async () => {
        const [c1, c2] = [cell(0), cell(1)];
        const group = await cloud.service.create(alice, {
          name: 'with-members',
          policy: 'anti-affinity',
          members: [
            'unscheduled',
            'unmapped',
            'live-1',
            'deleted-1',
            'missing-1',
            'live-2',
            'live-3',
          ],
        });
        await cloud.api.db
          .insertInto('instance_mappings')
          .values([
            { instance_uuid: 'unscheduled', cell_id: null, project_id: 'p1', user_id: 'alice' },
            { instance_uuid: 'live-1', cell_id: c1.mapping.id, project_id: 'p1', user_id: 'alice' },
            {
              instance_uuid: 'deleted-1',
              cell_id: c1.mapping.id,
              project_id: 'p1',
              user_id: 'alice',
            },
            {
              instance_uuid: 'missing-1',
              cell_id: c1.mapping.id,
              project_id: 'p1',
              user_id: 'alice',
            },
            { instance_uuid: 'live-2', cell_id: c2.mapping.id, project_id: 'p1', user_id: 'bob' },
            { instance_uuid: 'live-3', cell_id: c2.mapping.id, project_id: 'p1', user_id: 'alice' },
          ])
          .execute();
        await c1.db.db
          .insertInto('instances')
          .values([
            { uuid: 'live-1', host: 'host-a', project_id: 'p1', user_id: 'alice' },
            { uuid: 'deleted-1', host: 'host-z', project_id: 'p1', user_id: 'alice' },
          ])
          .execute();
        await c1.db.db
          .updateTable('instances')
          .set((eb) => ({ deleted: eb.ref('id') }))
          .where('uuid', '=', 'deleted-1')
          .execute();
        await c2.db.db
          .insertInto('instances')
          .values([
            { uuid: 'live-2', host: 'host-b', project_id: 'p1', user_id: 'bob' },
            { uuid: 'live-3', host: 'host-a', project_id: 'p1', user_id: 'alice' },
          ])
          .execute();

        const live = await cloud.service.liveMembers(alice, group.uuid);
        expect(live.unavailable).toEqual([]);
        // Nova's order: unscheduled first, then cell by cell, each newest first (here: same
        // created_at, so the higher id first).
        expect(live.members.map((m) => [m.instanceUuid, m.host])).toEqual([
          ['unscheduled', null],
          ['live-1', 'host-a'],
          ['live-3', 'host-a'],
          ['live-2', 'host-b'],
        ]);
        expect((await cloud.service.hosts(alice, group.uuid)).hosts.sort()).toEqual([
          'host-a',
          'host-b',
        ]);
        expect((await cloud.service.countLiveMembersByUser(alice, group.uuid, 'alice')).count).toBe(
          2,
        );
        expect((await cloud.service.countLiveMembersByUser(alice, group.uuid, 'bob')).count).toBe(
          1,
        );
      });
    });

    describe('cells that are down or slow', () => {
      it('a cell that refuses connections gives a partial list naming it, within the timeout', async () => {
        await insertLegacyGroups(cell(0).db.db, [{ name: 'reachable', projectId: 'p1' }]);
        await cloud.addCell('refusing', 'postgresql://nova@127.0.0.1:1/nova');
        const started = Date.now();
        const result = await cloud.service.list(alice);
        expect(Date.now() - started).toBeLessThan(3_000);
        expect(result.groups.map((g) => g.name)).toEqual(['reachable']);
        expect(result.unavailable.map((c) => c.name)).toEqual(['refusing']);
        expect(result.unavailable[0]?.reason).toMatch(/ECONNREFUSED/);
      });

      it('a cell that hangs gives a partial list naming it, within the timeout; a lookup it might answer is not "not found"', async () => {
        const hole = await blackhole();
        const fast = await createCloud(apiEngine, cellEngines().slice(0, 1), {
          fanOut: { timeoutMs: 400 },
        });
        try {
          const [uuid = ''] = await insertLegacyGroups(fast.cells[0]?.db.db ?? cell(0).db.db, [
            { name: 'reachable', projectId: 'p1' },
          ]);
          await fast.addCell('hanging', `mysql+pymysql://nova@127.0.0.1:${hole.port}/nova`);
          const started = Date.now();
          const result = await fast.service.list(alice);
          const elapsed = Date.now() - started;
          expect(elapsed).toBeGreaterThanOrEqual(350);
          expect(elapsed).toBeLessThan(2_000);
          expect(result.groups.map((g) => g.name)).toEqual(['reachable']);
          expect(result.unavailable).toEqual([
            expect.objectContaining({ name: 'hanging', reason: 'no answer within 400 ms' }),
          ]);
          // Found in a cell that answered: fine. Not found anywhere, with a cell silent: unavailable, not "not found".
          expect((await fast.service.get(alice, uuid)).name).toBe('reachable');
          await expect(
            fast.service.get(alice, '00000000-1111-2222-3333-444444444444'),
          ).rejects.toThrow(CellUnavailable);
        } finally {
          await hole.close();
          await fast.destroy();
        }
      });
    });
  });
}

forEachEngine((engine) => {
  suite('API and two cells on one engine', engine, () => [engine, engine]);
});

// Mixed engines: the API database on each server engine, one cell on SQLite and one on the other server.
for (const engine of testEngines().filter((e) => e.serverUrl !== undefined)) {
  suite(
    `API on ${engine.label}, cells on SQLite and ${engine.label === 'PostgreSQL' ? 'MariaDB' : 'PostgreSQL'}`,
    engine,
    () => {
      const sqlite = testEngines().find((e) => e.name === 'sqlite');
      const other =
        testEngines().find((e) => e.serverUrl !== undefined && e.name !== engine.name) ?? engine;
      return [sqlite ?? engine, other];
    },
  );
}
