import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeNova,
  novaApi,
  startCellgroupsApi,
  type ApiAnswer,
  type Caller,
  type CellgroupsApi,
} from '../support/nova/nova.js';

/** The body a create takes at `microversion`, for a policy Nova accepts there. */
function createBody(microversion: string, name: string): unknown {
  const [, minor = '1'] = microversion.split('.');
  const at = Number(minor);
  if (at >= 64) {
    return { server_group: { name, policy: 'anti-affinity', rules: { max_server_per_host: 2 } } };
  }
  return { server_group: { name, policies: [at >= 15 ? 'soft-affinity' : 'affinity'] } };
}

/**
 * Nova's API and cellgroups' API over the same databases (Nova's own, with
 * Nova's nova.conf): a group made through either reads the same, field for
 * field, through both, at every microversion that changed the resource.
 */
describeNova("cellgroups' API beside Nova's, on Nova's databases", () => {
  let api: CellgroupsApi;
  const owner: Caller = { user: 'alice', project: `parity-${randomUUID().slice(0, 8)}` };
  const other: Caller = { user: 'bob', project: `other-${randomUUID().slice(0, 8)}` };
  const admin: Caller = { user: 'admin', project: 'admin' };

  const call: CellgroupsApi['call'] = (...args) => api.call(...args);

  beforeAll(async () => {
    api = await startCellgroupsApi();
  });

  afterAll(async () => {
    await api.stop();
  });

  for (const microversion of ['2.1', '2.15', '2.64', '2.93']) {
    for (const [maker, reader] of [
      ['nova', 'cellgroups'],
      ['cellgroups', 'nova'],
    ] as const) {
      it(`${microversion}: a group made through ${maker} reads the same through ${reader}`, async () => {
        const made = await call(
          maker,
          'POST',
          '/os-server-groups',
          owner,
          microversion,
          createBody(microversion, `made-by-${maker}`),
        );
        expect(made.status, JSON.stringify(made.body)).toBe(200);
        const id = (made.body as { server_group: { id: string } }).server_group.id;
        const route = `/os-server-groups/${id}`;

        // Shown to its owner and to an admin: identical bodies on both sides.
        for (const caller of [owner, admin]) {
          const [byMaker, byReader] = await Promise.all([
            call(maker, 'GET', route, caller, microversion),
            call(reader, 'GET', route, caller, microversion),
          ]);
          expect(byReader.status).toBe(200);
          expect(byReader.body).toEqual(byMaker.body);
        }
        // Another project sees nothing, the same way on both sides.
        const [hiddenNova, hiddenOurs] = await Promise.all([
          call('nova', 'GET', route, other, microversion),
          call('cellgroups', 'GET', route, other, microversion),
        ]);
        expect(hiddenOurs.status).toBe(hiddenNova.status);
        expect(hiddenOurs.body).toEqual(hiddenNova.body);

        // Lists: the owner's, and an admin's across all projects.
        for (const [caller, query] of [
          [owner, ''],
          [admin, '?all_projects=True'],
        ] as const) {
          const [novaList, ourList] = await Promise.all([
            call('nova', 'GET', `/os-server-groups${query}`, caller, microversion),
            call('cellgroups', 'GET', `/os-server-groups${query}`, caller, microversion),
          ]);
          const pick = (answer: ApiAnswer) =>
            (answer.body as { server_groups: { id: string }[] }).server_groups.find(
              (g) => g.id === id,
            );
          expect(pick(ourList)).toEqual(pick(novaList));
          expect(pick(ourList)).toBeDefined();
        }

        // Deleted through the reader: gone on both sides.
        const deleted = await call(reader, 'DELETE', route, owner, microversion);
        expect(deleted.status).toBe(204);
        const [goneNova, goneOurs] = await Promise.all([
          call('nova', 'GET', route, owner, microversion),
          call('cellgroups', 'GET', route, owner, microversion),
        ]);
        expect(goneNova.status).toBe(404);
        expect(goneOurs.status).toBe(404);
        expect(goneOurs.body).toEqual(goneNova.body);
      });
    }
  }

  it('refuses a create over quota alike on both sides', async () => {
    const limited: Caller = { user: 'carol', project: `quota-${randomUUID().slice(0, 8)}` };
    const set = await novaApi('PUT', `/os-quota-sets/${limited.project}`, {
      ...admin,
      body: { quota_set: { server_groups: 1 } },
    });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const first = await call(
      'nova',
      'POST',
      '/os-server-groups',
      limited,
      '2.1',
      createBody('2.1', 'one'),
    );
    expect(first.status).toBe(200);
    const [novaRefusal, ourRefusal] = await Promise.all([
      call('nova', 'POST', '/os-server-groups', limited, '2.1', createBody('2.1', 'two')),
      call('cellgroups', 'POST', '/os-server-groups', limited, '2.1', createBody('2.1', 'two')),
    ]);
    expect(novaRefusal.status).toBe(403);
    expect(ourRefusal.status).toBe(403);
    expect(ourRefusal.body).toEqual(novaRefusal.body);
  });
});
