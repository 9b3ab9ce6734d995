import { sql, type Kysely, type Selectable } from 'kysely';
import type { BulkColumn, Engine } from '../db/dialects/index.js';
import type { ApiDatabase, InstanceGroupsTable } from '../db/schema/api.js';
import type { InstanceGroup, Rules } from './group.js';
import { createdAtKey } from './order.js';

/**
 * The groups in the API database (no soft delete: a deleted group is gone).
 * Functions take the query builder or a transaction of it, so callers
 * decide the transaction; each reads a batch of groups in a fixed number of
 * statements, whatever the batch size.
 */
type Db = Kysely<ApiDatabase>;

export interface GroupFilter {
  readonly projectId?: string;
  readonly userId?: string;
}

/**
 * `instance_group_policy.rules` as Nova reads it (InstanceGroup.rules in
 * nova/objects/instance_group.py): JSON text whose values are strings, of
 * which only `max_server_per_host` is kept, as an integer. NULL, `{}` or
 * anything else is no rules. A value Python's int() would refuse (Nova
 * answers 500 for it) is dropped.
 */
export function decodeRules(text: string | null): Rules {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const max = (value as Record<string, unknown>).max_server_per_host;
  const number =
    typeof max === 'number' && Number.isFinite(max)
      ? Math.trunc(max)
      : typeof max === 'string' && /^\s*[-+]?\d+(_\d+)*\s*$/.test(max)
        ? Number.parseInt(max.trim().replace(/_/g, ''), 10)
        : undefined;
  return number === undefined ? {} : { max_server_per_host: number };
}

/**
 * The text Nova writes for a group's rules: none given (a create before
 * microversion 2.64, a group moved from a cell) is NULL; given, even empty,
 * they are Python's `json.dumps` of the rules with every value a string
 * (the object field is a dict of strings): `{"max_server_per_host": "2"}`.
 */
export function encodeRules(rules: Rules | undefined): string | null {
  if (rules === undefined) return null;
  const pairs = Object.entries(rules).map(
    ([key, value]) => `${asciiJson(key)}: ${asciiJson(String(value))}`,
  );
  return `{${pairs.join(', ')}}`;
}

/** JSON.stringify with non-ASCII escaped, as Python's json.dumps (ensure_ascii) writes it. */
function asciiJson(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Groups with their policy and members: two more statements for the whole batch. */
export async function hydrateInApi(
  db: Db,
  rows: Selectable<InstanceGroupsTable>[],
): Promise<InstanceGroup[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [policies, members] = await Promise.all([
    db
      .selectFrom('instance_group_policy')
      .select(['group_id', 'policy', 'rules'])
      .where('group_id', 'in', ids)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('instance_group_member')
      .select(['group_id', 'instance_uuid'])
      .where('group_id', 'in', ids)
      .orderBy('id')
      .execute(),
  ]);
  const policyOf = new Map<number, { policy: string | null; rules: string | null }>();
  for (const p of policies) if (!policyOf.has(p.group_id)) policyOf.set(p.group_id, p);
  const membersOf = new Map<number, string[]>();
  for (const m of members) {
    if (m.instance_uuid === null) continue;
    const list = membersOf.get(m.group_id) ?? [];
    list.push(m.instance_uuid);
    membersOf.set(m.group_id, list);
  }
  return rows.map((row) => ({
    uuid: row.uuid,
    name: row.name,
    userId: row.user_id,
    projectId: row.project_id,
    policy: policyOf.get(row.id)?.policy ?? null,
    rules: decodeRules(policyOf.get(row.id)?.rules ?? null),
    members: membersOf.get(row.id) ?? [],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    location: { kind: 'api', id: row.id },
  }));
}

export async function getByUuidInApi(db: Db, uuid: string): Promise<InstanceGroup | undefined> {
  const rows = await db
    .selectFrom('instance_groups')
    .selectAll()
    .where('uuid', '=', uuid)
    .execute();
  return (await hydrateInApi(db, rows))[0];
}

/** Several groups by uuid, in three statements. */
export async function getByUuidsInApi(db: Db, uuids: readonly string[]): Promise<InstanceGroup[]> {
  if (uuids.length === 0) return [];
  const rows = await db
    .selectFrom('instance_groups')
    .selectAll()
    .where('uuid', 'in', [...uuids])
    .execute();
  return hydrateInApi(db, rows);
}

/** The API copy's row, locked until the transaction ends. */
export async function lockInApi(
  db: Db,
  engine: Engine,
  uuid: string,
): Promise<LockedGroup | undefined> {
  return engine
    .lockRows(
      db.selectFrom('instance_groups').select(['id', 'project_id']).where('uuid', '=', uuid),
    )
    .executeTakeFirst();
}

/**
 * Marks the locked group row as written. On a multi-writer cluster the
 * lock holds only on its own node; writing the row makes any two writers
 * of one group conflict at certification, so one of them is retried and
 * they apply in some serial order, as the lock gives on one server.
 */
export async function touchInApi(db: Db, id: number): Promise<void> {
  await db
    .updateTable('instance_groups')
    .set({ updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** A group row held by a writer's lock: its id, and its project (for the access check). */
export interface LockedGroup {
  readonly id: number;
  readonly project_id: string | null;
}

export async function getByNameInApi(
  db: Db,
  projectId: string,
  name: string,
): Promise<InstanceGroup | undefined> {
  const rows = await db
    .selectFrom('instance_groups')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('name', '=', name)
    .orderBy(createdAtKey())
    .orderBy('id')
    .limit(1)
    .execute();
  return (await hydrateInApi(db, rows))[0];
}

export async function getByInstanceInApi(
  db: Db,
  instanceUuid: string,
): Promise<InstanceGroup | undefined> {
  const rows = await db
    .selectFrom('instance_groups')
    .selectAll('instance_groups')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('instance_group_member')
        .select('group_id')
        .where('instance_uuid', '=', instanceUuid),
    )
    .orderBy('id')
    .limit(1)
    .execute();
  return (await hydrateInApi(db, rows))[0];
}

export type ApiGroupRecord = Selectable<InstanceGroupsTable>;

/** The first `limit` group rows in list order (all without a limit), without policies and members. */
export async function listRowsInApi(
  db: Db,
  filter: GroupFilter,
  limit?: number,
): Promise<ApiGroupRecord[]> {
  let query = db.selectFrom('instance_groups').selectAll().orderBy(createdAtKey()).orderBy('id');
  if (filter.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (limit !== undefined) query = query.limit(limit);
  return query.execute();
}

export async function countInApi(db: Db, filter: GroupFilter): Promise<number> {
  let query = db
    .selectFrom('instance_groups')
    .select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (filter.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/** A project's groups, and how many of them one user owns, in one statement (a create's quota check). */
export async function countOwnedInApi(
  db: Db,
  projectId: string,
  userId: string,
): Promise<{ project: number; user: number }> {
  const row = await db
    .selectFrom('instance_groups')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('project'),
      eb.fn
        .sum<number | string | null>(eb.case().when('user_id', '=', userId).then(1).else(0).end())
        .as('user'),
    ])
    .where('project_id', '=', projectId)
    .executeTakeFirstOrThrow();
  return { project: Number(row.project), user: Number(row.user ?? 0) };
}

/**
 * The first `limit` group rows in list order (all without a limit), and the
 * rows of those of `uuids` that have a copy here, in ONE statement: both
 * come from one snapshot. A list reads the cells first and checks their
 * rows against this; two statements could see a batch of the migration
 * committed between them in neither (see PROTOCOL.md, "Readers").
 */
export async function pageAndMovedInApi(
  db: Db,
  filter: GroupFilter,
  limit: number | undefined,
  uuids: readonly string[],
): Promise<{ rows: ApiGroupRecord[]; moved: ApiGroupRecord[] }> {
  let page = db
    .selectFrom('instance_groups')
    .selectAll()
    .select(sql<number | string>`1`.as('part'))
    .orderBy(createdAtKey())
    .orderBy('id');
  if (filter.projectId !== undefined) page = page.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) page = page.where('user_id', '=', filter.userId);
  if (limit !== undefined) page = page.limit(limit);
  const all =
    uuids.length === 0
      ? await page.execute()
      : await db
          .selectFrom(page.as('page'))
          .selectAll()
          .unionAll(
            db
              .selectFrom('instance_groups')
              .selectAll()
              .select(sql<number | string>`2`.as('part'))
              .where('uuid', 'in', [...uuids]),
          )
          .execute();
  const rows: ApiGroupRecord[] = [];
  const moved: ApiGroupRecord[] = [];
  for (const { part, ...row } of all) (Number(part) === 1 ? rows : moved).push(row);
  return { rows, moved };
}

/**
 * How many groups match `filter` (and how many of them `userId` owns), and
 * which of `uuids` have a copy here, in ONE statement, so one snapshot: a
 * count over the union reads the cells first, then this, and subtracts the
 * moved ones; a group moved between two statements would count twice.
 */
export async function countAndMovedInApi(
  db: Db,
  filter: GroupFilter,
  uuids: readonly string[],
  userId?: string,
): Promise<{ count: number; user: number; moved: Set<string> }> {
  let counts = db
    .selectFrom('instance_groups')
    .select((eb) => [
      sql<string | null>`null`.as('uuid'),
      eb.fn.countAll<number | string>().as('n'),
      eb.fn
        .sum<number | string | null>(
          userId === undefined
            ? sql<number>`0`
            : eb.case().when('user_id', '=', userId).then(1).else(0).end(),
        )
        .as('user'),
    ]);
  if (filter.projectId !== undefined) counts = counts.where('project_id', '=', filter.projectId);
  if (filter.userId !== undefined) counts = counts.where('user_id', '=', filter.userId);
  const all =
    uuids.length === 0
      ? await counts.execute()
      : await counts
          .unionAll(
            db
              .selectFrom('instance_groups')
              .select([
                'uuid',
                sql<number | string>`0`.as('n'),
                sql<number | string | null>`0`.as('user'),
              ])
              .where('uuid', 'in', [...uuids]),
          )
          .execute();
  const moved = new Set<string>();
  let count = 0;
  let user = 0;
  for (const row of all) {
    if (row.uuid === null) {
      count = Number(row.n);
      user = Number(row.user ?? 0);
    } else moved.add(row.uuid);
  }
  return { count, user, moved };
}

/** Which of `uuids` have a copy in the API database (one statement). */
export async function uuidsInApi(db: Db, uuids: readonly string[]): Promise<Set<string>> {
  if (uuids.length === 0) return new Set();
  const rows = await db
    .selectFrom('instance_groups')
    .select('uuid')
    .where('uuid', 'in', [...uuids])
    .execute();
  return new Set(rows.map((r) => r.uuid));
}

/** A group as it is first written to the API database (its location and update time come later). */
export type ApiGroupRow = Omit<InstanceGroup, 'location' | 'updatedAt' | 'createdAt' | 'rules'> & {
  readonly createdAt: Date;
  /** Undefined: none given, stored as NULL (see encodeRules). */
  readonly rules: Rules | undefined;
};

/** Inserts a group with its policy and members; returns its id. */
export async function insertInApi(db: Db, engine: Engine, group: ApiGroupRow): Promise<number> {
  const id = await engine.insertReturningId(
    db.insertInto('instance_groups').values({
      uuid: group.uuid,
      name: group.name,
      user_id: group.userId,
      project_id: group.projectId,
      created_at: group.createdAt,
      updated_at: null,
    }),
  );
  // A new group has no policy row to replace: one insert, not replacePolicyInApi's delete and insert.
  if (group.policy !== null)
    await insertPolicyInApi(db, id, group.policy, group.rules, group.createdAt);
  await addMembersInApi(db, engine, id, group.members);
  return id;
}

export async function renameInApi(db: Db, id: number, name: string): Promise<void> {
  await db
    .updateTable('instance_groups')
    .set({ name, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

export async function replacePolicyInApi(
  db: Db,
  id: number,
  policy: string,
  rules: Rules | undefined,
  at = new Date(),
): Promise<void> {
  await db.deleteFrom('instance_group_policy').where('group_id', '=', id).execute();
  await insertPolicyInApi(db, id, policy, rules, at);
}

async function insertPolicyInApi(
  db: Db,
  id: number,
  policy: string,
  rules: Rules | undefined,
  at: Date,
): Promise<void> {
  await db
    .insertInto('instance_group_policy')
    .values({
      group_id: id,
      policy,
      rules: encodeRules(rules),
      created_at: at,
    })
    .execute();
}

/** Adds the members not there yet; one already there is left alone (no duplicate row). */
export async function addMembersInApi(
  db: Db,
  engine: Engine,
  id: number,
  members: readonly string[],
): Promise<void> {
  if (members.length === 0) return;
  const now = new Date();
  await engine
    .ignoreDuplicates(
      db
        .insertInto('instance_group_member')
        .values(
          [...new Set(members)].map((m) => ({ group_id: id, instance_uuid: m, created_at: now })),
        ),
      ['group_id', 'instance_uuid'],
    )
    .execute();
}

export async function removeMembersInApi(
  db: Db,
  id: number,
  members: readonly string[],
): Promise<void> {
  if (members.length === 0) return;
  await db
    .deleteFrom('instance_group_member')
    .where('group_id', '=', id)
    .where('instance_uuid', 'in', [...members])
    .execute();
}

export async function deleteInApi(db: Db, id: number): Promise<void> {
  await db.deleteFrom('instance_group_member').where('group_id', '=', id).execute();
  await db.deleteFrom('instance_group_policy').where('group_id', '=', id).execute();
  await db.deleteFrom('instance_groups').where('id', '=', id).execute();
}

/**
 * A group copied whole from elsewhere (the online migration): its times are
 * kept, and, when known, those of its policy and member rows (else the
 * group's own).
 */
export type CopiedGroup = Omit<InstanceGroup, 'location'> & {
  readonly rowTimes?: {
    readonly policy: Date | null;
    readonly members: ReadonlyMap<string, Date | null>;
  };
};

const GROUP_COLUMNS: readonly BulkColumn[] = [
  { name: 'uuid', kind: 'text' },
  { name: 'name', kind: 'text' },
  { name: 'user_id', kind: 'text' },
  { name: 'project_id', kind: 'text' },
  { name: 'created_at', kind: 'datetime' },
  { name: 'updated_at', kind: 'datetime' },
];
const POLICY_COLUMNS: readonly BulkColumn[] = [
  { name: 'group_id', kind: 'integer' },
  { name: 'policy', kind: 'text' },
  { name: 'rules', kind: 'text' },
  { name: 'created_at', kind: 'datetime' },
];
const MEMBER_COLUMNS: readonly BulkColumn[] = [
  { name: 'group_id', kind: 'integer' },
  { name: 'instance_uuid', kind: 'text' },
  { name: 'created_at', kind: 'datetime' },
];

/**
 * Inserts many groups with their policies and members: one bulk statement
 * per table (per chunk), plus one to read back the new ids where the engine
 * cannot return them. The caller has made sure no uuid is here yet; a
 * racing insert of one fails the statement on the unique key, and with it
 * the transaction.
 */
export async function insertManyInApi(
  db: Db,
  engine: Engine,
  groups: readonly CopiedGroup[],
): Promise<void> {
  if (groups.length === 0) return;
  const returned = await engine.insertMany(
    db,
    'instance_groups',
    GROUP_COLUMNS,
    groups.map((g) => [g.uuid, g.name, g.userId, g.projectId, g.createdAt, g.updatedAt]),
    ['id', 'uuid'],
  );
  const rows =
    returned.length > 0
      ? returned
      : await db
          .selectFrom('instance_groups')
          .select(['id', 'uuid'])
          .where(
            'uuid',
            'in',
            groups.map((g) => g.uuid),
          )
          .execute();
  const idOf = new Map(rows.map((r) => [String(r.uuid), Number(r.id)]));
  const groupId = (uuid: string): number => {
    const id = idOf.get(uuid);
    if (id === undefined) throw new Error(`instance group ${uuid} was not inserted`);
    return id;
  };

  await engine.insertMany(
    db,
    'instance_group_policy',
    POLICY_COLUMNS,
    groups
      .filter((g) => g.policy !== null)
      .map((g) => [
        groupId(g.uuid),
        g.policy,
        // A legacy group has no rules: NULL, as Nova's own move to the API database wrote.
        encodeRules(Object.keys(g.rules).length === 0 ? undefined : g.rules),
        g.rowTimes?.policy ?? g.createdAt,
      ]),
  );
  await engine.insertMany(
    db,
    'instance_group_member',
    MEMBER_COLUMNS,
    groups.flatMap((g) =>
      [...new Set(g.members)].map((m) => [
        groupId(g.uuid),
        m,
        g.rowTimes?.members.get(m) ?? g.createdAt,
      ]),
    ),
  );
}
