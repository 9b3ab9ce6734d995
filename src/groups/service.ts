import { randomUUID } from 'node:crypto';
import { CellPool, type CellPoolOptions } from '../cells/cell-pool.js';
import { DEFAULT_FAN_OUT, type FanOutOptions, type UnavailableCell } from '../cells/fan-out.js';
import { fanOutToGroupCells } from '../cells/group-cells.js';
import type { Config } from '../config/load.js';
import type { RequestContext } from '../context.js';
import { openDatabase, type Database } from '../db/connection.js';
import { withRetry } from '../db/retry.js';
import type { Kysely } from 'kysely';
import type { Engine } from '../db/dialects/index.js';
import type { ApiDatabase } from '../db/schema/api.js';
import {
  CellUnavailable,
  GroupExists,
  GroupInCell,
  GroupNotFound,
  InvalidInput,
  QuotaExceeded,
} from '../errors.js';
import * as apiStore from './api-store.js';
import * as cellStore from './cell-store.js';
import {
  checkPolicy,
  uniqueMembers,
  type GroupChanges,
  type InstanceGroup,
  type NewGroup,
} from './group.js';
import { liveMembers, lookupMembers, type LiveMember, type MemberViewer } from './hosts.js';
import { GroupLocator, lookupByUuid, type Located, type Lookup } from './locate.js';
import { listMerged, type MergedList, type Page } from './merge.js';

/**
 * The columns' lengths, checked before writing: a server not in strict mode
 * would cut a longer value silently, and create returns what it wrote.
 */
function checkLengths(row: apiStore.ApiGroupRow): void {
  const fields: [string, string | null][] = [
    ['name', row.name],
    ['user_id', row.userId],
    ['project_id', row.projectId],
    ...row.members.map((m): [string, string] => ['member', m]),
  ];
  for (const [field, value] of fields) {
    if (value !== null && value.length > 255) {
      throw new InvalidInput(`The ${field} of a group is at most 255 characters long.`);
    }
  }
}

/** Whether a count passes a limit (-1: unlimited). */
const exceeds = (count: number, limit: number) => limit >= 0 && count > limit;

const UUID_LIKE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Writes the project's quota fence row inside the create's transaction (see
 * create). Handed in by the caller: quotas/ owns how the fence is stored, and
 * groups/ does not import quotas/.
 */
export type QuotaFence = (
  tx: Kysely<ApiDatabase>,
  engine: Engine,
  projectId: string,
) => Promise<void>;

/** The limits on groups a create must respect, and what to say when it would pass one. */
export interface GroupQuota {
  /** Groups of the project (-1: unlimited). */
  readonly project: number;
  /** Groups of the creating user within the project (-1: unlimited). */
  readonly user: number;
  readonly message: string;
  readonly fence: QuotaFence;
}

export interface GroupServiceOptions {
  /** Per-cell timeout and concurrency of every fan-out. */
  readonly fanOut?: Partial<FanOutOptions>;
  readonly cells?: CellPoolOptions;
  /** Longest a write waits for a cell row another transaction holds (default 3 s; docs/write-bounds.md). */
  readonly lockWaitMs?: number;
}

/** A count over the API database and the cells, and the cells it could not count. */
export interface UnionCount {
  readonly count: number;
  readonly unavailable: UnavailableCell[];
}

/**
 * Server groups wherever they live: the API database first, then the cell
 * databases. This is the data layer the REST API, the scheduler and the
 * online migration go through; none of them needs to know about cells.
 *
 * A non-admin context only ever sees its own project's groups: another
 * project's group is "not found", as in Nova.
 */
export class GroupService {
  readonly cells: CellPool;
  /** Per-cell timeout and concurrency, for whatever else fans out over `cells`. */
  readonly fan: FanOutOptions;
  private readonly locator: GroupLocator;

  constructor(
    readonly api: Database<ApiDatabase>,
    options: GroupServiceOptions = {},
  ) {
    this.fan = { ...DEFAULT_FAN_OUT, ...options.fanOut };
    this.cells = new CellPool(api, options.cells);
    this.locator = new GroupLocator(api, this.cells, this.fan, options.lockWaitMs);
  }

  /** A service over the API database at `apiUrl`; `close()` closes it and every cell. */
  static open(apiUrl: string, options: GroupServiceOptions = {}): GroupService {
    return new GroupService(openDatabase<ApiDatabase>(apiUrl), options);
  }

  /** A service as the configuration describes it (API database, per-cell timeout and concurrency, lock-wait bound). */
  static fromConfig(config: Config): GroupService {
    const { cell_timeout, cell_concurrency, lock_wait_timeout } = config.values.cellgroups;
    return GroupService.open(config.apiDatabaseUrl, {
      fanOut: { timeoutMs: cell_timeout * 1000, concurrency: cell_concurrency },
      lockWaitMs: lock_wait_timeout * 1000,
    });
  }

  async close(): Promise<void> {
    await this.cells.close();
    await this.api.close();
  }

  // ---- reads -------------------------------------------------------------

  /** By uuid: API database first, then the cells. */
  async get(ctx: RequestContext, uuid: string): Promise<InstanceGroup> {
    return this.visible(ctx, await this.locator.find(lookupByUuid(uuid)), uuid).group;
  }

  /** By name, within the context's project. */
  async getByName(ctx: RequestContext, name: string): Promise<InstanceGroup> {
    const lookup: Lookup = {
      ref: name,
      inApi: (db) => apiStore.getByNameInApi(db, ctx.projectId, name),
      inCell: (db, cell) => cellStore.getByNameInCell(db, cell, ctx.projectId, name),
    };
    return (await this.locator.find(lookup)).group;
  }

  /** The group server `instanceUuid` is a member of ("which group is this server in"). */
  async getByInstance(ctx: RequestContext, instanceUuid: string): Promise<InstanceGroup> {
    const lookup: Lookup = {
      ref: `with member ${instanceUuid}`,
      inApi: (db) => apiStore.getByInstanceInApi(db, instanceUuid),
      inCell: (db, cell) => cellStore.getByInstanceInCell(db, cell, instanceUuid),
    };
    return this.visible(ctx, await this.locator.find(lookup), lookup.ref).group;
  }

  /** A scheduler hint: a uuid-like hint is a uuid, anything else a name. */
  getByHint(ctx: RequestContext, hint: string): Promise<InstanceGroup> {
    return UUID_LIKE.test(hint) ? this.get(ctx, hint) : this.getByName(ctx, hint);
  }

  /**
   * The context's project's groups (or every project's, for an admin asking
   * for all), merged over the API database and every cell, each uuid once.
   */
  list(ctx: RequestContext, options: Page & { allProjects?: boolean } = {}): Promise<MergedList> {
    const everyProject = ctx.isAdmin && options.allProjects === true;
    const page: Page = {
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.offset === undefined ? {} : { offset: options.offset }),
    };
    return listMerged(
      this.api,
      this.cells,
      this.fan,
      everyProject ? {} : { projectId: ctx.projectId },
      page,
    );
  }

  // ---- counts (quota) ------------------------------------------------------

  /** Groups of a project (and of one user in it), over the union: a group not yet migrated still counts. */
  async countGroups(filter: { projectId: string; userId?: string }): Promise<UnionCount> {
    // Cells first, then the API database: a group moving meanwhile counts once (see merge.ts).
    // Cells past the blocker migration hold no live group and are not asked (group-cells.ts).
    const inCells = await fanOutToGroupCells(
      this.cells,
      (cell) => cellStore.liveUuidsInCell(cell.database.db, filter),
      this.fan,
    );
    const cellUuids = new Set(inCells.answers.flatMap((a) => a.value));
    // One statement: the count and the "already moved" check share one snapshot,
    // so a group moved meanwhile is subtracted exactly when it is counted here.
    const inApi = await apiStore.countAndMovedInApi(this.api.db, filter, [...cellUuids]);
    return {
      count: inApi.count + cellUuids.size - inApi.moved.size,
      unavailable: inCells.unavailable,
    };
  }

  /** Members of a group (its member rows, live or not). */
  async countMembers(ctx: RequestContext, uuid: string): Promise<number> {
    return (await this.get(ctx, uuid)).members.length;
  }

  // ---- members that are live instances ---------------------------------------

  /** The members that are live instances, with their hosts (see hosts.ts for the rules). */
  async liveMembers(
    ctx: RequestContext,
    group: InstanceGroup | string,
  ): Promise<{ members: LiveMember[]; unavailable: UnavailableCell[] }> {
    const resolved = typeof group === 'string' ? await this.get(ctx, group) : group;
    return liveMembers(this.api, this.cells, this.fan, resolved.members);
  }

  /**
   * The live members of several groups at once (a page of a list): one
   * lookup for all their members instead of one per group. Each group's
   * members come in Nova's order (see MemberLookup.membersOf); a `viewer`
   * who is not admin is shown only the instances of its own project, as
   * Nova's instance query shows them.
   */
  async liveMembersOfGroups(
    groups: readonly InstanceGroup[],
    viewer?: MemberViewer,
  ): Promise<{ members: Map<string, string[]>; unavailable: UnavailableCell[] }> {
    const lookup = await lookupMembers(
      this.api,
      this.cells,
      this.fan,
      groups.flatMap((g) => g.members),
      viewer,
    );
    return {
      members: new Map(
        groups.map((g) => [g.uuid, lookup.membersOf(g.members).map((m) => m.instanceUuid)]),
      ),
      unavailable: lookup.unavailable,
    };
  }

  /** The distinct hosts of the group's live members. */
  async hosts(
    ctx: RequestContext,
    uuid: string,
  ): Promise<{ hosts: string[]; unavailable: UnavailableCell[] }> {
    const { members, unavailable } = await this.liveMembers(ctx, uuid);
    const hosts = [...new Set(members.flatMap((m) => (m.host === null ? [] : [m.host])))];
    return { hosts, unavailable };
  }

  /** How many live members of the group belong to `userId` (instances in cells, as Nova counts). */
  async countLiveMembersByUser(
    ctx: RequestContext,
    uuid: string,
    userId: string,
  ): Promise<UnionCount> {
    const { members, unavailable } = await this.liveMembers(ctx, uuid);
    return {
      count: members.filter((m) => m.cellUuid !== null && m.userId === userId).length,
      unavailable,
    };
  }

  // ---- writes --------------------------------------------------------------

  /**
   * Creates a group in the API database. A uuid given by the caller that a
   * cell database still holds is refused (migrate it, do not duplicate it);
   * a generated uuid cannot collide, so no cell is asked.
   */
  async create(
    ctx: RequestContext,
    input: NewGroup,
    options: { quota?: GroupQuota } = {},
  ): Promise<InstanceGroup> {
    checkPolicy(input.policy, input.rules);
    if (input.uuid !== undefined) await this.refuseIfInCell(input.uuid);
    const uuid = input.uuid ?? randomUUID();
    const row: apiStore.ApiGroupRow = {
      uuid,
      name: input.name,
      userId: input.userId ?? ctx.userId,
      projectId: input.projectId ?? ctx.projectId,
      policy: input.policy,
      // Undefined (none given) is stored as NULL, an empty object as Nova's `{}`.
      rules: input.rules,
      members: uniqueMembers(input.members ?? []),
      createdAt: this.api.engine.storableDate(new Date()),
    };
    checkLengths(row);
    const { quota } = options;
    const projectId = row.projectId ?? ctx.projectId;
    const userId = row.userId ?? ctx.userId;
    const limited = quota !== undefined && (quota.project >= 0 || quota.user >= 0);
    // Groups not yet migrated count too; cells only ever lose live groups, so reading them first is safe.
    const inCells = limited ? await this.liveOwnersInCells(projectId) : [];
    try {
      const id = await withRetry(this.api, () =>
        this.api.db
          .transaction()
          // NOTE: a quota-checked create writes the project's fence row first
          // and counts after: racing creates of one project queue on that row,
          // and each counts once the one before has committed (read committed
          // reads afresh per statement). On a Galera cluster, where the row
          // lock holds only on its node, they conflict at certification
          // instead; the loser is retried and counts the winner's group.
          // Serializable isolation would add nothing but retries.
          .setIsolationLevel('read committed')
          .execute(async (tx) => {
            if (quota !== undefined && limited) {
              await quota.fence(tx, this.api.engine, projectId);
              // One statement, one snapshot: a group moved between a separate uuid
              // check and the count would count twice (issue 14, item 3).
              const inApi = await apiStore.countAndMovedInApi(
                tx,
                { projectId },
                inCells.map((g) => g.uuid),
                userId,
              );
              const onlyInCells = inCells.filter((g) => !inApi.moved.has(g.uuid));
              const projectUsed = inApi.count + onlyInCells.length;
              const userUsed = inApi.user + onlyInCells.filter((g) => g.userId === userId).length;
              if (exceeds(projectUsed + 1, quota.project) || exceeds(userUsed + 1, quota.user)) {
                throw new QuotaExceeded(quota.message);
              }
            }
            return apiStore.insertInApi(tx, this.api.engine, row);
          }),
      );
      // Exactly what a read would give (see storableDate, checkLengths, decodeRules): no read-back.
      const rules = apiStore.decodeRules(apiStore.encodeRules(row.rules));
      return { ...row, rules, updatedAt: null, location: { kind: 'api', id } };
    } catch (error) {
      if (this.api.engine.isDuplicateKey(error)) throw new GroupExists(uuid);
      throw error;
    }
  }

  /** The live groups of a project in the cells, with their users; a cell that does not answer makes the count unknowable. */
  private async liveOwnersInCells(
    projectId: string,
  ): Promise<{ uuid: string; userId: string | null }[]> {
    const { answers, unavailable } = await fanOutToGroupCells(
      this.cells,
      (cell) => cellStore.liveOwnersInCell(cell.database.db, projectId),
      this.fan,
    );
    const [down] = unavailable;
    if (down) {
      throw new CellUnavailable(
        down.name ?? down.uuid,
        `${down.reason}; cannot count the groups of project ${projectId} there`,
      );
    }
    const byUuid = new Map(answers.flatMap((a) => a.value).map((g) => [g.uuid, g]));
    return [...byUuid.values()];
  }

  private async refuseIfInCell(uuid: string): Promise<void> {
    const { answers, unavailable } = await fanOutToGroupCells(
      this.cells,
      (cell) =>
        cellStore.getByUuidInCell(
          cell.database.db,
          { uuid: cell.mapping.uuid, name: cell.mapping.name },
          uuid,
        ),
      this.fan,
    );
    const holder = answers.find((a) => a.value !== undefined);
    if (holder) throw new GroupInCell(uuid, holder.cell.mapping.name ?? holder.cell.mapping.uuid);
    const [down] = unavailable;
    if (down) {
      throw new CellUnavailable(
        down.name ?? down.uuid,
        `${down.reason}; cannot tell whether ${uuid} is there`,
      );
    }
  }

  /** Renames, replaces the policy (and rules), or replaces the member list, on the authoritative copy. */
  async save(ctx: RequestContext, uuid: string, changes: GroupChanges): Promise<InstanceGroup> {
    const current = await this.get(ctx, uuid);
    const policy = changes.policy ?? current.policy;
    if (changes.policy !== undefined || changes.rules !== undefined) {
      checkPolicy(
        policy ?? '',
        changes.rules ?? (changes.policy === undefined ? current.rules : {}),
      );
    }
    await this.locator.write(
      uuid,
      {
        api: async (tx, id) => {
          if (changes.name !== undefined) await apiStore.renameInApi(tx, id, changes.name);
          if (changes.policy !== undefined || changes.rules !== undefined) {
            await apiStore.replacePolicyInApi(tx, id, policy ?? '', changes.rules);
          }
          if (changes.members !== undefined) {
            const wanted = uniqueMembers(changes.members);
            const existing = await apiStore.getByUuidInApi(tx, uuid);
            const gone = (existing?.members ?? []).filter((m) => !wanted.includes(m));
            await apiStore.removeMembersInApi(tx, id, gone);
            await apiStore.addMembersInApi(tx, this.api.engine, id, wanted);
          }
        },
        cell: async (tx, id, cell) => {
          if (changes.rules !== undefined && Object.keys(changes.rules).length > 0) {
            throw new InvalidInput(
              `Instance group ${uuid} still lives in cell ${cell.mapping.name ?? cell.mapping.uuid}, whose legacy schema has no rules; ` +
                'run "cellgroups-manage db online_data_migrations" first.',
            );
          }
          if (changes.name !== undefined) await cellStore.renameInCell(tx, id, changes.name);
          if (changes.policy !== undefined)
            await cellStore.replacePolicyInCell(tx, id, changes.policy);
          if (changes.members !== undefined) {
            const wanted = uniqueMembers(changes.members);
            const existing = await cellStore.getByUuidInCell(tx, cell.mapping, uuid);
            await cellStore.removeMembersInCell(
              tx,
              id,
              (existing?.members ?? []).filter((m) => !wanted.includes(m)),
            );
            await cellStore.addMembersInCell(tx, id, wanted);
          }
        },
      },
      ctx,
    );
    return this.get(ctx, uuid);
  }

  /** Adds members; one that is already there stays once. */
  async addMembers(
    ctx: RequestContext,
    uuid: string,
    members: readonly string[],
  ): Promise<InstanceGroup> {
    await this.locator.write(
      uuid,
      {
        api: (tx, id) => apiStore.addMembersInApi(tx, this.api.engine, id, members),
        cell: (tx, id) => cellStore.addMembersInCell(tx, id, members),
      },
      ctx,
    );
    return this.get(ctx, uuid);
  }

  async removeMembers(
    ctx: RequestContext,
    uuid: string,
    members: readonly string[],
  ): Promise<InstanceGroup> {
    await this.locator.write(
      uuid,
      {
        api: (tx, id) => apiStore.removeMembersInApi(tx, id, members),
        cell: (tx, id) => cellStore.removeMembersInCell(tx, id, members),
      },
      ctx,
    );
    return this.get(ctx, uuid);
  }

  /**
   * Deletes the group from every database that holds it: soft-deletes each
   * cell copy with its policies and members, then deletes the API copy
   * (see GroupLocator.delete for why in that order).
   */
  async destroy(ctx: RequestContext, uuid: string): Promise<void> {
    await this.locator.delete(uuid, ctx);
  }

  private visible(ctx: RequestContext, located: Located, ref: string): Located {
    if (!ctx.isAdmin && located.group.projectId !== ctx.projectId) throw new GroupNotFound(ref);
    return located;
  }
}
