import { randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeNova,
  novaExec,
  novaSql,
  startCellgroupsApi,
  type ApiAnswer,
  type Caller,
  type CellgroupsApi,
} from '../support/nova/nova.js';

/** An instance as Nova's compute would have left it in a cell database, and its mapping. */
interface Instance {
  /** `nova` (cell1) or `nova_cell0`; null: mapped to no cell yet (being scheduled), no row. */
  readonly cell: 'nova' | 'nova_cell0' | null;
  readonly owner: Caller;
  readonly vcpus: number;
  readonly ram: number;
  readonly hour: number;
  readonly vmState?: string;
  readonly hidden?: boolean;
  readonly deleted?: boolean;
  /** No instance_mappings row at all. */
  readonly unmapped?: boolean;
}

/**
 * Issue 13: what Nova reads of the instances in its cells, read alike by
 * both APIs: the live members of a group (Nova's `_get_not_deleted`: mapped,
 * not deleted, not soft-deleted, not hidden, of the caller's project unless
 * admin, in Nova's order), and instances, cores and RAM in use (`/limits`,
 * os-quota-sets detail and an update's check) counted from the cells as
 * Nova counts them with `[quota] count_usage_from_placement = False`. The
 * test Nova has no compute service, so the instances are written as
 * Nova's compute and conductor write them.
 */
describeNova("instances in Nova's cells, read by both APIs", () => {
  let api: CellgroupsApi;
  const suffix = randomUUID().slice(0, 8);
  const alice: Caller = { user: 'alice', project: `inst-${suffix}` };
  const carol: Caller = { user: 'carol', project: alice.project };
  const bob: Caller = { user: 'bob', project: `elsewhere-${suffix}` };
  const admin: Caller = { user: 'admin', project: 'admin' };
  let groupId = '';

  const call: CellgroupsApi['call'] = (...args) => api.call(...args);
  const both: CellgroupsApi['both'] = (...args) => api.both(...args);

  async function writeInstance(instance: Instance, cells: Map<string, number>): Promise<string> {
    const uuid = randomUUID();
    const createdAt = `2026-01-02 ${String(instance.hour).padStart(2, '0')}:00:00`;
    if (instance.cell !== null) {
      const written = await novaExec(
        instance.cell,
        `INSERT INTO instances (created_at, uuid, project_id, user_id, vcpus, memory_mb, root_gb,
           ephemeral_gb, vm_state, power_state, host, node, launched_on, display_name, hostname,
           locked, auto_disk_config, shutdown_terminate, disable_terminate, cleaned, hidden, deleted)
         VALUES (?, ?, ?, ?, ?, ?, 1, 0, ?, 1, 'compute-1', 'compute-1', 'compute-1', ?, ?,
           0, 0, 0, 0, 0, ?, 0)`,
        [
          createdAt,
          uuid,
          instance.owner.project,
          instance.owner.user,
          instance.vcpus,
          instance.ram,
          instance.vmState ?? 'active',
          `vm-${instance.hour}`,
          `vm-${instance.hour}`,
          instance.hidden ? 1 : 0,
        ],
      );
      if (instance.deleted) {
        await novaExec(instance.cell, 'UPDATE instances SET deleted = id WHERE id = ?', [
          written.insertId,
        ]);
      }
    }
    if (!instance.unmapped) {
      await novaExec(
        'nova_api',
        `INSERT INTO instance_mappings (created_at, instance_uuid, cell_id, project_id, user_id,
           queued_for_delete)
         VALUES (?, ?, ?, ?, ?, ?)`,
        [
          createdAt,
          uuid,
          instance.cell === null ? null : (cells.get(instance.cell) ?? null),
          instance.owner.project,
          instance.owner.user,
          instance.deleted ? 1 : 0,
        ],
      );
    }
    return uuid;
  }

  beforeAll(async () => {
    api = await startCellgroupsApi();
    const mappings = await novaSql<RowDataPacket & { id: number; database_connection: string }>(
      'nova_api',
      'SELECT id, database_connection FROM cell_mappings',
    );
    const cells = new Map<string, number>();
    for (const m of mappings) {
      const name = /\/(nova(?:_cell0)?)\?/.exec(m.database_connection)?.[1];
      if (name) cells.set(name, m.id);
    }
    expect([...cells.keys()].sort()).toEqual(['nova', 'nova_cell0']);

    const made = await call('nova', 'POST', '/os-server-groups', alice, '2.64', {
      server_group: { name: 'with-members', policy: 'anti-affinity' },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    groupId = (made.body as { server_group: { id: string } }).server_group.id;

    const instances: Instance[] = [
      { cell: 'nova', owner: alice, vcpus: 2, ram: 2048, hour: 10 },
      { cell: 'nova', owner: alice, vcpus: 4, ram: 4096, hour: 11 },
      { cell: 'nova', owner: carol, vcpus: 1, ram: 512, hour: 12 },
      { cell: 'nova', owner: bob, vcpus: 8, ram: 8192, hour: 13 },
      { cell: 'nova_cell0', owner: alice, vcpus: 1, ram: 256, hour: 9, vmState: 'error' },
      { cell: 'nova', owner: alice, vcpus: 16, ram: 16384, hour: 14, deleted: true },
      { cell: 'nova', owner: alice, vcpus: 16, ram: 16384, hour: 15, vmState: 'soft-delete' },
      { cell: 'nova', owner: alice, vcpus: 16, ram: 16384, hour: 16, hidden: true },
      { cell: null, owner: alice, vcpus: 0, ram: 0, hour: 17 },
      { cell: 'nova', owner: alice, vcpus: 32, ram: 32768, hour: 18, unmapped: true },
    ];
    const uuids: string[] = [];
    for (const instance of instances) uuids.push(await writeInstance(instance, cells));
    const [row] = await novaSql<RowDataPacket & { id: number }>(
      'nova_api',
      'SELECT id FROM instance_groups WHERE uuid = ?',
      [groupId],
    );
    for (const uuid of uuids) {
      await novaExec(
        'nova_api',
        'INSERT INTO instance_group_member (created_at, instance_uuid, group_id) VALUES (NOW(), ?, ?)',
        [uuid, row?.id ?? 0],
      );
    }
  });

  afterAll(async () => {
    await api.stop();
  });

  for (const microversion of ['2.1', '2.15', '2.64', '2.93']) {
    it(`${microversion}: a group's members read the same through both APIs, for each caller`, async () => {
      const route = `/os-server-groups/${groupId}`;
      for (const caller of [alice, carol, admin]) {
        const [nova, ours] = await both('GET', route, caller, microversion);
        expect(nova.status, JSON.stringify(nova.body)).toBe(200);
        expect(ours.body).toEqual(nova.body);
      }
      // An admin sees bob's instance; alice's project does not.
      const members = async (caller: Caller) =>
        (
          (await call('cellgroups', 'GET', route, caller, microversion)).body as {
            server_group: { members: string[] };
          }
        ).server_group.members;
      // Live and mapped: alice's two, carol's, bob's, the one in cell0, the one being scheduled.
      expect((await members(admin)).length).toBe(6);
      expect((await members(alice)).length).toBe(5);
      // Another project does not see the group at all.
      const [hiddenNova, hiddenOurs] = await both('GET', route, bob, microversion);
      expect(hiddenNova.status).toBe(404);
      expect(hiddenOurs.body).toEqual(hiddenNova.body);

      for (const [caller, query] of [
        [alice, ''],
        [admin, '?all_projects=True'],
      ] as const) {
        const [novaList, ourList] = await both(
          'GET',
          `/os-server-groups${query}`,
          caller,
          microversion,
        );
        const pick = (answer: ApiAnswer) =>
          (answer.body as { server_groups: { id: string }[] }).server_groups.find(
            (g) => g.id === groupId,
          );
        expect(pick(ourList)).toBeDefined();
        expect(pick(ourList)).toEqual(pick(novaList));
      }
    });
  }

  it('/limits counts the same instances, cores and RAM on both sides', async () => {
    for (const microversion of ['2.1', '2.57']) {
      const [nova, ours] = await both('GET', '/limits', alice, microversion);
      expect(nova.status).toBe(200);
      expect(ours.body).toEqual(nova.body);
      // The cells count what is in them, mapped or not: alice's, carol's, cell0's and the unmapped one.
      expect(
        (nova.body as { limits: { absolute: Record<string, number> } }).limits.absolute,
      ).toMatchObject({ totalInstancesUsed: 5, totalCoresUsed: 40, totalRAMUsed: 39680 });
    }
  });

  it('os-quota-sets detail shows the same usage, for the project and for one user', async () => {
    for (const query of ['', `?user_id=${alice.user}`, `?user_id=${carol.user}`]) {
      const [nova, ours] = await both(
        'GET',
        `/os-quota-sets/${alice.project}/detail${query}`,
        admin,
        '2.1',
      );
      expect(nova.status, JSON.stringify(nova.body)).toBe(200);
      expect(ours.body).toEqual(nova.body);
    }
  });

  it('an update below what is in use is refused alike', async () => {
    for (const [resource, limit] of [
      ['instances', 4],
      ['cores', 39],
      ['ram', 39679],
    ] as const) {
      const [nova, ours] = await both('PUT', `/os-quota-sets/${alice.project}`, admin, '2.1', {
        quota_set: { [resource]: limit },
      });
      expect(nova.status, JSON.stringify(nova.body)).toBe(400);
      expect(ours.status).toBe(400);
      expect(ours.body).toEqual(nova.body);
    }
  });
});
