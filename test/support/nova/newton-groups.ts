import { randomUUID } from 'node:crypto';
import type { NovaDatabase } from './deployment.js';
import { novaExec } from './nova.js';

/**
 * Legacy groups as Newton-era Nova left them in a cell database, written
 * straight into the tables `nova-manage db sync` made: what an operator
 * adopting a real cloud finds there. It includes the oddities old Nova let
 * through: a soft-deleted group whose uuid a live group re-uses, the same
 * member listed twice, a group with several policy rows, and soft-deleted
 * policy and member rows.
 */
export interface NewtonGroup {
  readonly uuid: string;
  readonly name: string;
  readonly project: string;
  readonly user: string;
  /** Live policy rows, in insertion order (old Nova allowed more than one). */
  readonly policies: readonly string[];
  /** Live member rows, in insertion order, duplicates included. */
  readonly members: readonly string[];
  readonly createdAt: string;
}

async function insert(db: NovaDatabase, sql: string, params: (string | number)[]): Promise<number> {
  return (await novaExec(db, sql, params)).insertId;
}

type ChildTable = 'instance_group_policy' | 'instance_group_member';

/** One policy or member row of group `id`; soft-deleted (deleted = id) when `live` is false. */
async function writeChild(
  db: NovaDatabase,
  table: ChildTable,
  value: string,
  id: number,
  createdAt: string,
  live: boolean,
): Promise<void> {
  const column = table === 'instance_group_policy' ? 'policy' : 'instance_id';
  const row = await insert(
    db,
    `INSERT INTO ${table} (created_at, deleted, ${column}, group_id) VALUES (?, 0, ?, ?)`,
    [createdAt, value, id],
  );
  if (!live) {
    await novaExec(db, `UPDATE ${table} SET deleted = id, deleted_at = NOW() WHERE id = ?`, [row]);
  }
}

async function writeGroup(
  db: NovaDatabase,
  group: NewtonGroup,
  deleted: { readonly policies?: readonly string[]; readonly members?: readonly string[] } = {},
): Promise<void> {
  const id = await insert(
    db,
    'INSERT INTO instance_groups (created_at, deleted, uuid, name, user_id, project_id) VALUES (?, 0, ?, ?, ?, ?)',
    [group.createdAt, group.uuid, group.name, group.user, group.project],
  );
  const rows: (readonly [ChildTable, string, boolean])[] = [
    ...group.policies.map((p) => ['instance_group_policy', p, true] as const),
    ...(deleted.policies ?? []).map((p) => ['instance_group_policy', p, false] as const),
    ...group.members.map((m) => ['instance_group_member', m, true] as const),
    ...(deleted.members ?? []).map((m) => ['instance_group_member', m, false] as const),
  ];
  for (const [table, value, live] of rows) {
    await writeChild(db, table, value, id, group.createdAt, live);
  }
}

/** A soft-deleted group, as Nova's destroy left it (deleted = id). */
async function writeDeletedGroup(db: NovaDatabase, uuid: string, project: string): Promise<void> {
  const id = await insert(
    db,
    'INSERT INTO instance_groups (created_at, deleted, uuid, name, user_id, project_id) VALUES (?, 0, ?, ?, ?, ?)',
    ['2016-10-01 09:00:00', uuid, 'gone', 'old-user', project],
  );
  await insert(
    db,
    'INSERT INTO instance_group_policy (created_at, deleted, policy, group_id) VALUES (?, 0, ?, ?)',
    ['2016-10-01 09:00:00', 'affinity', id],
  );
  await novaExec(
    db,
    'UPDATE instance_group_policy SET deleted = id, deleted_at = NOW() WHERE group_id = ?',
    [id],
  );
  await novaExec(db, 'UPDATE instance_groups SET deleted = id, deleted_at = NOW() WHERE id = ?', [
    id,
  ]);
}

/**
 * Writes five live legacy groups (four in cell1, one in cell0) and one
 * soft-deleted one for `project`, and returns the live ones as they should
 * read after the move.
 */
export async function writeNewtonGroups(project: string, user: string): Promise<NewtonGroup[]> {
  const reused = randomUUID();
  const twice = randomUUID();
  const groups: NewtonGroup[] = [
    {
      uuid: randomUUID(),
      name: 'web',
      project,
      user,
      policies: ['anti-affinity'],
      members: [randomUUID(), randomUUID()],
      createdAt: '2016-11-02 10:00:00',
    },
    {
      uuid: randomUUID(),
      name: 'db',
      project,
      user,
      policies: ['affinity'],
      members: [twice, twice],
      createdAt: '2016-11-02 10:00:01',
    },
    {
      uuid: randomUUID(),
      name: 'several-policies',
      project,
      user,
      policies: ['anti-affinity', 'anti-affinity'],
      members: [],
      createdAt: '2016-11-02 10:00:02',
    },
    {
      uuid: reused,
      name: 'reused-uuid',
      project,
      user,
      policies: ['soft-anti-affinity'],
      members: [randomUUID()],
      createdAt: '2016-11-02 10:00:03',
    },
    {
      uuid: randomUUID(),
      name: 'in-cell0',
      project,
      user,
      policies: ['soft-affinity'],
      members: [],
      createdAt: '2016-11-02 10:00:04',
    },
  ];
  await writeDeletedGroup('nova', reused, project);
  const [web, db, several, reusedGroup, inCell0] = groups as [
    NewtonGroup,
    NewtonGroup,
    NewtonGroup,
    NewtonGroup,
    NewtonGroup,
  ];
  await writeGroup('nova', web, { members: [randomUUID()] });
  await writeGroup('nova', db);
  await writeGroup('nova', several, { policies: ['affinity'] });
  await writeGroup('nova', reusedGroup);
  await writeGroup('nova_cell0', inCell0);
  return groups;
}
