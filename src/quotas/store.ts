import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/connection.js';
import type { Engine } from '../db/dialects/index.js';
import { withRetry } from '../db/retry.js';
import type { ApiDatabase } from '../db/schema/api.js';
import { isQuotaResource, type QuotaResource } from './resources.js';

/**
 * Quota limits in the API database, as Nova keeps them: a project's own
 * limits in `quotas`, a user's within a project in `project_user_quotas`,
 * and the `default` quota class in `quota_classes`. A resource without a
 * row falls back to the next level (see service.ts).
 */
type Db = Kysely<ApiDatabase>;

export type LimitRows = Partial<Record<QuotaResource, number>>;

function toLimits(rows: readonly { resource: string | null; hard_limit: number | null }[]) {
  const limits: LimitRows = {};
  for (const { resource, hard_limit } of rows) {
    if (resource !== null && hard_limit !== null && isQuotaResource(resource)) {
      limits[resource] = hard_limit;
    }
  }
  return limits;
}

/** The `default` quota class: what an operator set for every project (Nova's os-quota-class-sets). */
export async function defaultClassLimits(db: Db): Promise<LimitRows> {
  return toLimits(
    await db
      .selectFrom('quota_classes')
      .select(['resource', 'hard_limit'])
      .where('class_name', '=', 'default')
      .execute(),
  );
}

export async function projectLimits(db: Db, projectId: string): Promise<LimitRows> {
  return toLimits(
    await db
      .selectFrom('quotas')
      .select(['resource', 'hard_limit'])
      .where('project_id', '=', projectId)
      .execute(),
  );
}

export async function userLimits(db: Db, projectId: string, userId: string): Promise<LimitRows> {
  return toLimits(
    await db
      .selectFrom('project_user_quotas')
      .select(['resource', 'hard_limit'])
      .where('project_id', '=', projectId)
      .where('user_id', '=', userId)
      .execute(),
  );
}

/** Per resource, the sum of the limits given to the project's users (what is already handed out). */
export async function limitsGivenToUsers(db: Db, projectId: string): Promise<LimitRows> {
  const rows = await db
    .selectFrom('project_user_quotas')
    .select(['resource', 'hard_limit'])
    .where('project_id', '=', projectId)
    .execute();
  const given: LimitRows = {};
  for (const { resource, hard_limit } of rows) {
    if (hard_limit !== null && isQuotaResource(resource)) {
      given[resource] = (given[resource] ?? 0) + hard_limit;
    }
  }
  return given;
}

/**
 * One resource's limit at each level that sets it (the `default` class,
 * the project, the user in it), in one statement: the lookup every create
 * makes before its quota check.
 */
export async function limitsOfResource(
  db: Db,
  resource: QuotaResource,
  projectId: string,
  userId: string,
): Promise<{ class?: number; project?: number; user?: number }> {
  const rows = await db
    .selectFrom('quota_classes')
    .select([sql<string>`'class'`.as('level'), 'hard_limit'])
    .where('class_name', '=', 'default')
    .where('resource', '=', resource)
    .unionAll(
      db
        .selectFrom('quotas')
        .select([sql<string>`'project'`.as('level'), 'hard_limit'])
        .where('project_id', '=', projectId)
        .where('resource', '=', resource),
    )
    .unionAll(
      db
        .selectFrom('project_user_quotas')
        .select([sql<string>`'user'`.as('level'), 'hard_limit'])
        .where('project_id', '=', projectId)
        .where('user_id', '=', userId)
        .where('resource', '=', resource),
    )
    .execute();
  const levels: { class?: number; project?: number; user?: number } = {};
  for (const { level, hard_limit } of rows) {
    if (hard_limit !== null && (level === 'class' || level === 'project' || level === 'user')) {
      levels[level] = hard_limit;
    }
  }
  return levels;
}

export interface QuotaOwner {
  readonly projectId: string;
  /** A user's limits within the project; none: the project's own. */
  readonly userId?: string;
}

/**
 * Sets several limits at once, in one transaction (Nova sets them one by
 * one, so a failure half way left some set). A row another writer inserted
 * first is updated on the retry.
 */
export async function setLimits(
  database: Database<ApiDatabase>,
  owner: QuotaOwner,
  limits: LimitRows,
): Promise<void> {
  const entries = Object.entries(limits) as [QuotaResource, number][];
  if (entries.length === 0) return;
  const now = new Date();
  await withRetry(
    database,
    () =>
      database.db.transaction().execute(async (tx) => {
        for (const [resource, hardLimit] of entries) {
          const { userId, projectId } = owner;
          const updated =
            userId === undefined
              ? await tx
                  .updateTable('quotas')
                  .set({ hard_limit: hardLimit, updated_at: now })
                  .where('project_id', '=', projectId)
                  .where('resource', '=', resource)
                  .executeTakeFirst()
              : await tx
                  .updateTable('project_user_quotas')
                  .set({ hard_limit: hardLimit, updated_at: now })
                  .where('project_id', '=', projectId)
                  .where('user_id', '=', userId)
                  .where('resource', '=', resource)
                  .executeTakeFirst();
          if (Number(updated.numUpdatedRows) > 0) continue;
          const row = { project_id: projectId, resource, hard_limit: hardLimit, created_at: now };
          if (userId === undefined) await tx.insertInto('quotas').values(row).execute();
          else {
            await tx
              .insertInto('project_user_quotas')
              .values({ ...row, user_id: userId })
              .execute();
          }
        }
      }),
    { alsoRetry: (error) => database.engine.isDuplicateKey(error) },
  );
}

/**
 * Forgets limits, so the defaults apply again: a user's own, or the
 * project's together with every one of its users' (as Nova's
 * destroy_all_by_project does).
 */
export async function deleteLimits(
  database: Database<ApiDatabase>,
  owner: QuotaOwner,
): Promise<void> {
  const { projectId, userId } = owner;
  await withRetry(database, () =>
    database.db.transaction().execute(async (tx) => {
      let users = tx.deleteFrom('project_user_quotas').where('project_id', '=', projectId);
      if (userId !== undefined) users = users.where('user_id', '=', userId);
      await users.execute();
      if (userId === undefined) {
        await tx.deleteFrom('quotas').where('project_id', '=', projectId).execute();
      }
    }),
  );
}

/**
 * Writes the fence row of a project's resource, inside the transaction
 * that counts the resource and adds to it: racing ones then write the same
 * row, which even a multi-writer cluster sees as a conflict (see
 * migrations/api/002-quota-fences.ts).
 */
export async function writeFence(
  tx: Db,
  engine: Engine,
  projectId: string,
  resource: QuotaResource,
): Promise<void> {
  const now = new Date();
  await engine
    .upsert(
      tx
        .insertInto('quota_fences')
        .values({ project_id: projectId, resource, generation: 1, created_at: now }),
      ['project_id', 'resource'],
      { generation: sql`quota_fences.generation + 1`, updated_at: now },
    )
    .execute();
}
