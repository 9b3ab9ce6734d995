import type { Kysely, Selectable, UpdateQueryBuilder, UpdateResult } from 'kysely';
import { dbFailure, withDatabase } from '../db/connection.js';
import type { Engine } from '../db/dialects/index.js';
import { readSchemaVersion } from '../db/migrations/migrator.js';
import type { CellDatabase, LegacyInstanceGroupsTable } from '../db/schema/cell.js';
import type { GroupFilter, LockedGroup } from './api-store.js';
import type { InstanceGroup } from './group.js';
import { createdAtKey } from './order.js';

/**
 * The legacy groups of one cell database (soft delete: `deleted = id`).
 * Rows read as the new model: the first live policy row is the policy,
 * rules are empty, `instance_id` holds the member's instance uuid, and
 * duplicate member rows collapse to one.
 */
type Db = Kysely<CellDatabase>;

/** Which cell the rows came from, for the group's location. */
export interface CellRef {
  readonly uuid: string;
  readonly name: string | null;
}

export type CellGroupRecord = Selectable<LegacyInstanceGroupsTable>;

/** Group rows as the new model: two more statements for the whole batch (live policies, live members). */
export async function hydrateInCell(
  db: Db,
  cell: CellRef,
  rows: CellGroupRecord[],
): Promise<InstanceGroup[]> {
  // The row times are the migration's business; a reader sees the group.
  return (await readInCell(db, cell, rows)).groups.map(({ rowTimes: _, ...group }) => group);
}

/**
 * When the rows a group was read from were written: the policy row the group
 * takes its policy from, and each member's first live row. A move copies
 * them, so that a moved member keeps the time it joined the group.
 */
export interface RowTimes {
  readonly policy: Date | null;
  readonly members: ReadonlyMap<string, Date | null>;
}

/** Groups read from a cell, and the ids of the live policy and member rows they were read from. */
export interface CellRead {
  readonly groups: (InstanceGroup & { readonly rowTimes: RowTimes })[];
  readonly policyIds: number[];
  readonly memberIds: number[];
}

/** `hydrateInCell`, keeping the row ids (the migration soft-deletes exactly those rows). */
export async function readInCell(
  db: Db,
  cell: CellRef,
  rows: CellGroupRecord[],
): Promise<CellRead> {
  if (rows.length === 0) return { groups: [], policyIds: [], memberIds: [] };
  const ids = rows.map((r) => r.id);
  const [policies, members] = await Promise.all([
    db
      .selectFrom('instance_group_policy')
      .select(['id', 'group_id', 'policy', 'created_at'])
      .where('group_id', 'in', ids)
      .where('deleted', '=', 0)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('instance_group_member')
      .select(['id', 'group_id', 'instance_id', 'created_at'])
      .where('group_id', 'in', ids)
      .where('deleted', '=', 0)
      .orderBy('id')
      .execute(),
  ]);
  // Rows come in id order: the first one of a group (or of a member) is the one that counts.
  const policyOf = new Map<number, { policy: string | null; createdAt: Date | null }>();
  for (const p of policies) {
    if (!policyOf.has(p.group_id)) {
      policyOf.set(p.group_id, { policy: p.policy, createdAt: p.created_at });
    }
  }
  const membersOf = new Map<number, Map<string, Date | null>>();
  for (const m of members) {
    if (m.instance_id === null) continue;
    const joined = membersOf.get(m.group_id) ?? new Map<string, Date | null>();
    if (!joined.has(m.instance_id)) joined.set(m.instance_id, m.created_at);
    membersOf.set(m.group_id, joined);
  }
  const groups = rows.map((row) => ({
    uuid: row.uuid,
    name: row.name,
    userId: row.user_id,
    projectId: row.project_id,
    policy: policyOf.get(row.id)?.policy ?? null,
    rules: {},
    members: [...(membersOf.get(row.id)?.keys() ?? [])],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    location: { kind: 'cell' as const, id: row.id, cellUuid: cell.uuid, cellName: cell.name },
    rowTimes: {
      policy: policyOf.get(row.id)?.createdAt ?? null,
      members: membersOf.get(row.id) ?? new Map<string, Date | null>(),
    },
  }));
  return { groups, policyIds: policies.map((p) => p.id), memberIds: members.map((m) => m.id) };
}

const live = (db: Db) => db.selectFrom('instance_groups').selectAll().where('deleted', '=', 0);

export async function getByUuidInCell(
  db: Db,
  cell: CellRef,
  uuid: string,
): Promise<InstanceGroup | undefined> {
  return (await hydrateInCell(db, cell, await live(db).where('uuid', '=', uuid).execute()))[0];
}

export async function getByNameInCell(
  db: Db,
  cell: CellRef,
  projectId: string,
  name: string,
): Promise<InstanceGroup | undefined> {
  const rows = await live(db)
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .orderBy(createdAtKey())
    .orderBy('id')
    .limit(1)
    .execute();
  return (await hydrateInCell(db, cell, rows))[0];
}

export async function getByInstanceInCell(
  db: Db,
  cell: CellRef,
  instanceUuid: string,
): Promise<InstanceGroup | undefined> {
  const rows = await live(db)
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('instance_group_member')
        .select('group_id')
        .where('instance_id', '=', instanceUuid)
        .where('deleted', '=', 0),
    )
    .orderBy('id')
    .limit(1)
    .execute();
  return (await hydrateInCell(db, cell, rows))[0];
}

/** The first `limit` live group rows in list order (all without a limit), without policies and members. */
export async function listRowsInCell(
  db: Db,
  filter: GroupFilter,
  limit?: number,
): Promise<CellGroupRecord[]> {
  let query = live(db).orderBy(createdAtKey()).orderBy('id');
  if (filter.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (limit !== undefined) query = query.limit(limit);
  return query.execute();
}

/** The uuids of the live groups matching `filter` (for counts over the union). */
export async function liveUuidsInCell(db: Db, filter: GroupFilter): Promise<string[]> {
  let query = db.selectFrom('instance_groups').select('uuid').where('deleted', '=', 0);
  if (filter.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  return (await query.execute()).map((r) => r.uuid);
}

/** The live groups of a project, with the user that owns each (a quota counts both). */
export async function liveOwnersInCell(
  db: Db,
  projectId: string,
): Promise<{ uuid: string; userId: string | null }[]> {
  const rows = await db
    .selectFrom('instance_groups')
    .select(['uuid', 'user_id'])
    .where('deleted', '=', 0)
    .where('project_id', '=', projectId)
    .execute();
  return rows.map((r) => ({ uuid: r.uuid, userId: r.user_id }));
}

/** Whether the cell holds a live copy of group `uuid` (no lock: a writer locks it next). */
export async function hasLiveInCell(db: Db, uuid: string): Promise<boolean> {
  const row = await db
    .selectFrom('instance_groups')
    .select('id')
    .where('uuid', '=', uuid)
    .where('deleted', '=', 0)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The live cell copy's row, locked until the transaction ends: the lock a
 * writer and the online migration both take on a cell copy.
 */
export async function lockInCell(
  db: Db,
  engine: Engine,
  uuid: string,
): Promise<LockedGroup | undefined> {
  return engine
    .lockRows(
      db
        .selectFrom('instance_groups')
        .select(['id', 'project_id'])
        .where('uuid', '=', uuid)
        .where('deleted', '=', 0),
    )
    .executeTakeFirst();
}

export async function renameInCell(db: Db, id: number, name: string): Promise<void> {
  await db
    .updateTable('instance_groups')
    .set({ name, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Legacy groups keep policies as rows; the new one replaces them all. */
export async function replacePolicyInCell(db: Db, id: number, policy: string): Promise<void> {
  const now = new Date();
  await db
    .updateTable('instance_group_policy')
    .set((eb) => ({ deleted: eb.ref('id'), deleted_at: now }))
    .where('group_id', '=', id)
    .where('deleted', '=', 0)
    .execute();
  await db
    .insertInto('instance_group_policy')
    .values({ group_id: id, policy, created_at: now })
    .execute();
}

/** Adds the members not there yet (the legacy table has no unique key: the group lock orders writers). */
export async function addMembersInCell(
  db: Db,
  id: number,
  members: readonly string[],
): Promise<void> {
  if (members.length === 0) return;
  const present = new Set(
    (
      await db
        .selectFrom('instance_group_member')
        .select('instance_id')
        .where('group_id', '=', id)
        .where('deleted', '=', 0)
        .where('instance_id', 'in', [...members])
        .execute()
    ).map((r) => r.instance_id),
  );
  const missing = [...new Set(members)].filter((m) => !present.has(m));
  if (missing.length === 0) return;
  const now = new Date();
  await db
    .insertInto('instance_group_member')
    .values(missing.map((m) => ({ group_id: id, instance_id: m, created_at: now })))
    .execute();
}

export async function removeMembersInCell(
  db: Db,
  id: number,
  members: readonly string[],
): Promise<void> {
  if (members.length === 0) return;
  await db
    .updateTable('instance_group_member')
    .set((eb) => ({ deleted: eb.ref('id'), deleted_at: new Date() }))
    .where('group_id', '=', id)
    .where('deleted', '=', 0)
    .where('instance_id', 'in', [...members])
    .execute();
}

/** Soft-deletes the group with its policies and members. */
export async function softDeleteInCell(db: Db, id: number): Promise<void> {
  await softDeleteManyInCell(db, [id]);
}

type SoftDeleted = 'instance_groups' | 'instance_group_policy' | 'instance_group_member';

/** Soft-deletes the live rows of `table` that `where` selects (Nova's way: `deleted = id`). */
async function softDelete(
  db: Db,
  table: SoftDeleted,
  where: (
    query: UpdateQueryBuilder<CellDatabase, SoftDeleted, SoftDeleted, UpdateResult>,
  ) => UpdateQueryBuilder<CellDatabase, SoftDeleted, SoftDeleted, UpdateResult>,
  now: Date,
): Promise<number> {
  const result = await where(
    db.updateTable(table).set((eb) => ({ deleted: eb.ref('id'), deleted_at: now })),
  )
    .where('deleted', '=', 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Soft-deletes groups with their policies and members: one statement per
 * table, whatever the number of groups. Returns how many group rows it
 * deleted, so a caller can tell when a row was not live any more.
 */
export async function softDeleteManyInCell(db: Db, ids: readonly number[]): Promise<number> {
  if (ids.length === 0) return 0;
  const now = new Date();
  for (const table of ['instance_group_member', 'instance_group_policy'] as const) {
    await softDelete(db, table, (q) => q.where('group_id', 'in', [...ids]), now);
  }
  return softDelete(db, 'instance_groups', (q) => q.where('id', 'in', [...ids]), now);
}

/**
 * Soft-deletes exactly the rows a `readInCell` under lock returned: by
 * primary key, which on InnoDB is much cheaper than walking the group_id
 * index. No other live row of these groups can exist: writers add members
 * and policies only under the group row lock the caller holds.
 */
export async function softDeleteReadInCell(
  db: Db,
  engine: Engine,
  groupIds: readonly number[],
  read: Pick<CellRead, 'policyIds' | 'memberIds'>,
): Promise<number> {
  const now = new Date();
  const byIds = (ids: readonly number[]) => (q: Parameters<Parameters<typeof softDelete>[2]>[0]) =>
    q.where(engine.idIn('id', ids));
  for (const [table, ids] of [
    ['instance_group_member', read.memberIds],
    ['instance_group_policy', read.policyIds],
  ] as const) {
    for (let i = 0; i < ids.length; i += 5_000) {
      await softDelete(db, table, byIds(ids.slice(i, i + 5_000)), now);
    }
  }
  if (groupIds.length === 0) return 0;
  return softDelete(db, 'instance_groups', byIds(groupIds), now);
}

/**
 * The next `limit` live groups in id order after `afterId`, locked until the
 * transaction ends: what one batch of the online migration moves. Starting
 * after the last batch keeps each batch an index range scan instead of a
 * walk past every row the earlier batches soft-deleted.
 */
export async function lockBatchInCell(
  db: Db,
  engine: Engine,
  limit: number,
  afterId = 0,
): Promise<CellGroupRecord[]> {
  return engine.lockRows(live(db).where('id', '>', afterId).orderBy('id').limit(limit)).execute();
}

/** The live groups among `uuids`, locked until the transaction ends. */
export async function lockByUuidsInCell(
  db: Db,
  engine: Engine,
  uuids: readonly string[],
): Promise<CellGroupRecord[]> {
  if (uuids.length === 0) return [];
  return engine
    .lockRows(
      live(db)
        .where('uuid', 'in', [...uuids])
        .orderBy('id'),
    )
    .execute();
}

/** How many live groups the cell holds. */
export async function countLiveInCell(db: Db): Promise<number> {
  const row = await db
    .selectFrom('instance_groups')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('deleted', '=', 0)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Live legacy groups in the cell database at `url` (0 when it has no schema yet). */
export function countLiveInCellDatabase(url: string): Promise<number> {
  return withDatabase<CellDatabase, number>(url, async (cell) => {
    if ((await readSchemaVersion(cell, 'cell')) === 0) return 0;
    try {
      return await countLiveInCell(cell.db);
    } catch (cause) {
      throw dbFailure(cell, 'count instance groups', cause);
    }
  });
}

/**
 * Writes the group row of a cell copy a writer is about to change. Under
 * row locks this changes nothing; on a multi-writer cluster (Galera), where
 * a lock taken on one node does not hold on another, it makes the writer and
 * the online migration write the same row, so that certification lets only
 * one of them commit and the other meets a deadlock error and is retried.
 */
export async function touchInCell(db: Db, id: number): Promise<void> {
  await db
    .updateTable('instance_groups')
    .set({ updated_at: new Date() })
    .where('id', '=', id)
    .where('deleted', '=', 0)
    .execute();
}
