import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Engine } from '../src/db/dialects/index.js';
import type { CellDatabase } from '../src/db/schema/cell.js';
import { softDeleteManyInCell } from '../src/groups/cell-store.js';

/**
 * The one writer of legacy groups into a cell database, as Nova's cell
 * database held them (several policy rows, members by instance uuid in
 * `instance_id`, repeats as repeated rows), with multi-row inserts: a batch
 * of any size costs a handful of statements. Used by the tests
 * (test/support/legacy.ts), the benchmarks (bench/) and `seed:legacy` (the
 * README walkthrough, tools/seed-legacy.ts).
 */
export interface LegacyGroupRows {
  readonly uuid: string;
  readonly name: string;
  readonly projectId: string;
  readonly userId: string;
  /** One row each, in this order (the first is the group's policy). */
  readonly policies: readonly string[];
  /** One row each, in this order; a repeat is a duplicate row. */
  readonly members: readonly string[];
  readonly createdAt: Date;
}

// Well under the smallest bound-parameter limit of the three engines (SQLite's 32,766).
const MAX_PARAMETERS = 8_000;

function* chunks<T>(rows: readonly T[], columns: number): Generator<T[]> {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / columns));
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/**
 * Inserts `groups` (live, with fresh uuids) and their policy and member
 * rows; returns each group's id by uuid. The caller chooses the
 * transaction: pass one for all or nothing. Group ids come back through
 * RETURNING where the engine has it (none given: not assumed), else by
 * reading the new rows back by uuid.
 */
export async function writeLegacyGroups(
  db: Kysely<CellDatabase>,
  engine: Pick<Engine, 'capabilities'> | null,
  groups: readonly LegacyGroupRows[],
): Promise<Map<string, number>> {
  if (groups.length === 0) return new Map();
  const idOf = new Map<string, number>();
  for (const part of chunks(groups, 6)) {
    const insert = db.insertInto('instance_groups').values(
      part.map((g) => ({
        uuid: g.uuid,
        name: g.name,
        project_id: g.projectId,
        user_id: g.userId,
        created_at: g.createdAt,
      })),
    );
    const rows = engine?.capabilities.returning
      ? await insert.returning(['id', 'uuid']).execute()
      : (await insert.execute(),
        await db
          .selectFrom('instance_groups')
          .select(['id', 'uuid'])
          .where(
            'uuid',
            'in',
            part.map((g) => g.uuid),
          )
          .where('deleted', '=', 0)
          .execute());
    for (const row of rows) idOf.set(row.uuid, row.id);
  }
  const groupId = (uuid: string): number => {
    const id = idOf.get(uuid);
    if (id === undefined) throw new Error(`legacy group ${uuid} was not inserted`);
    return id;
  };

  const policies = groups.flatMap((g) =>
    g.policies.map((policy) => ({ policy, group_id: groupId(g.uuid), created_at: g.createdAt })),
  );
  for (const part of chunks(policies, 3)) {
    await db.insertInto('instance_group_policy').values(part).execute();
  }
  const members = groups.flatMap((g) =>
    g.members.map((instance_id) => ({
      instance_id,
      group_id: groupId(g.uuid),
      created_at: g.createdAt,
    })),
  );
  for (const part of chunks(members, 3)) {
    await db.insertInto('instance_group_member').values(part).execute();
  }
  return idOf;
}

/** A group for the tests, every field optional: Nova's shape, no rules, members by instance_id. */
export interface LegacyGroup {
  uuid?: string;
  name?: string;
  projectId?: string;
  userId?: string;
  /** Default: anti-affinity. */
  policies?: string[];
  /** Repeats are written as repeated rows, as old Nova could leave them. */
  members?: string[];
  createdAt?: Date;
  /** Write it soft-deleted (deleted = id), with its policies and members. */
  deleted?: boolean;
}

/**
 * Writes legacy groups one transaction each (as a cell written to over time
 * holds them), filling in defaults; returns their uuids.
 */
export async function insertLegacyGroups(
  db: Kysely<CellDatabase>,
  groups: readonly LegacyGroup[],
): Promise<string[]> {
  const uuids: string[] = [];
  for (const g of groups) {
    const uuid = g.uuid ?? randomUUID();
    uuids.push(uuid);
    const rows: LegacyGroupRows = {
      uuid,
      name: g.name ?? `legacy-${uuid.slice(0, 8)}`,
      projectId: g.projectId ?? 'p1',
      userId: g.userId ?? 'u1',
      policies: g.policies ?? ['anti-affinity'],
      members: g.members ?? [],
      createdAt: g.createdAt ?? new Date(),
    };
    await db.transaction().execute(async (tx) => {
      const ids = await writeLegacyGroups(tx, null, [rows]);
      if (g.deleted) await softDeleteManyInCell(tx, [...ids.values()]);
    });
  }
  return uuids;
}
