import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CellDatabase } from '../../src/db/schema/cell.js';
import { softDeleteInCell } from '../../src/groups/cell-store.js';

/** A group as Nova's cell database held it: several policy rows, no rules, members by instance_id. */
export interface LegacyGroup {
  uuid?: string;
  name?: string;
  projectId?: string;
  userId?: string;
  policies?: string[];
  /** Repeats are written as repeated rows, as old Nova could leave them. */
  members?: string[];
  createdAt?: Date;
  /** Write it soft-deleted (deleted = id), with its policies and members. */
  deleted?: boolean;
}

/** Writes legacy groups into a cell database; returns their uuids. */
export async function insertLegacyGroups(
  db: Kysely<CellDatabase>,
  groups: LegacyGroup[],
): Promise<string[]> {
  const uuids: string[] = [];
  for (const g of groups) {
    const uuid = g.uuid ?? randomUUID();
    uuids.push(uuid);
    await db.transaction().execute(async (tx) => {
      const created = g.createdAt ?? new Date();
      await tx
        .insertInto('instance_groups')
        .values({
          uuid,
          name: g.name ?? `legacy-${uuid.slice(0, 8)}`,
          project_id: g.projectId ?? 'p1',
          user_id: g.userId ?? 'u1',
          created_at: created,
        })
        .execute();
      const { id } = await tx
        .selectFrom('instance_groups')
        .select('id')
        .where('uuid', '=', uuid)
        .where('deleted', '=', 0)
        .executeTakeFirstOrThrow();
      const policies = g.policies ?? ['anti-affinity'];
      if (policies.length > 0) {
        await tx
          .insertInto('instance_group_policy')
          .values(policies.map((policy) => ({ policy, group_id: id, created_at: created })))
          .execute();
      }
      const members = g.members ?? [];
      if (members.length > 0) {
        await tx
          .insertInto('instance_group_member')
          .values(
            members.map((instance_id) => ({ instance_id, group_id: id, created_at: created })),
          )
          .execute();
      }
      if (g.deleted) await softDeleteInCell(tx, id);
    });
  }
  return uuids;
}
