import type { Kysely } from 'kysely';
import type { CellPool } from '../cells/cell-pool.js';
import type { FanOutOptions, UnavailableCell } from '../cells/fan-out.js';
import { countInstanceUsage, type InstanceUsageCount } from '../cells/instances.js';
import type { Database } from '../db/connection.js';
import type { Engine } from '../db/dialects/index.js';
import type { ApiDatabase } from '../db/schema/api.js';
import { CellUnavailable, InvalidInput } from '../errors.js';
import { QUOTA_RESOURCES, unlimited, type QuotaLimits, type QuotaResource } from './resources.js';
import * as store from './store.js';
import type { LimitRows, QuotaOwner } from './store.js';

/** One resource of a detailed quota set. `reserved` is always 0: there are no reservations. */
export interface QuotaDetail {
  readonly limit: number;
  readonly in_use: number;
  readonly reserved: number;
}

/** The server-group limits a create must respect: the project's, and the user's within it. */
export interface ServerGroupLimits {
  readonly project: number;
  readonly user: number;
  /** Serializes racing creates of one project: written in the create's transaction, before it counts. */
  readonly fence: (tx: Kysely<ApiDatabase>, engine: Engine, projectId: string) => Promise<void>;
}

/**
 * What quotas need of the groups: a project's (or user's) groups, counted
 * wherever they live. Handed in (the group service is one): groups/ and
 * quotas/ share a layer and do not import each other.
 */
export interface GroupCounter {
  countGroups(
    owner: QuotaOwner,
  ): Promise<{ readonly count: number; readonly unavailable: readonly UnavailableCell[] }>;
}

/** What quotas need of the cells' instances: instances, cores and RAM in use (see cells/instances.ts). */
export interface InstanceCounter {
  countInstances(owner: QuotaOwner): Promise<InstanceUsageCount>;
}

/** Counts over every cell of `pool`, each within the fan-out's timeout. */
export function cellInstanceCounter(pool: CellPool, fan: FanOutOptions): InstanceCounter {
  return {
    countInstances: async (owner) =>
      countInstanceUsage(await pool.cells(), (cell) => pool.instanceColumns(cell), fan, owner),
  };
}

/** Usage per resource, and the cells each resource's count had to go without. */
interface Usage {
  readonly inUse: Record<QuotaResource, number>;
  readonly uncounted: ReadonlyMap<QuotaResource, readonly UnavailableCell[]>;
}

/** Limits with usage, and the cells some usage could not be counted in. */
export interface QuotaDetails {
  readonly detail: Record<QuotaResource, QuotaDetail>;
  readonly unavailable: readonly UnavailableCell[];
}

const fenceServerGroups = (tx: Kysely<ApiDatabase>, engine: Engine, projectId: string) =>
  store.writeFence(tx, engine, projectId, 'server_groups');

/** Nova's sum and difference of limits, where anything below 0 is unlimited (-1). */
const plus = (a: number, b: number) => (unlimited(a) || unlimited(b) ? -1 : a + b);
const minus = (a: number, b: number) => (unlimited(a) || unlimited(b) ? -1 : a - b);
const finite = (limit: number) => (unlimited(limit) ? Infinity : limit);

/**
 * Quota limits and usage, with Nova's precedence: a user's own limit, else
 * the project's, else the `default` quota class, else `[quota]` in the
 * configuration. Usage is counted as Nova counts it with `[quota]
 * count_usage_from_placement = False`: `server_groups` over the API database
 * and the cells (a group not yet migrated counts); `instances`, `cores` and
 * `ram` from the live instances in every cell. Nova shows nothing in use for
 * `server_group_members` and `key_pairs` (they are checked per group and
 * per user when used), and the other resources are limits only.
 */
export class QuotaService {
  constructor(
    private readonly api: Database<ApiDatabase>,
    private readonly groups: GroupCounter,
    private readonly instances: InstanceCounter,
    private readonly configured: QuotaLimits,
  ) {}

  async defaults(): Promise<QuotaLimits> {
    return { ...this.configured, ...(await store.defaultClassLimits(this.api.db)) };
  }

  /** The limits that apply to a project, or to one user in it. */
  async limits(owner: QuotaOwner): Promise<QuotaLimits> {
    const [defaults, project, user] = await Promise.all([
      this.defaults(),
      store.projectLimits(this.api.db, owner.projectId),
      owner.userId === undefined
        ? {}
        : store.userLimits(this.api.db, owner.projectId, owner.userId),
    ]);
    return { ...defaults, ...project, ...user };
  }

  /** The limits a new group of `userId` in `projectId` must fit in. */
  async serverGroupLimits(projectId: string, userId: string): Promise<ServerGroupLimits> {
    const set = await store.limitsOfResource(this.api.db, 'server_groups', projectId, userId);
    const projectLimit = set.project ?? set.class ?? this.configured.server_groups;
    return { project: projectLimit, user: set.user ?? projectLimit, fence: fenceServerGroups };
  }

  /**
   * Limits with usage, per resource (os-quota-sets detail, /limits). A cell
   * that does not answer is left out of the usage, as Nova leaves it out,
   * and named in `unavailable`.
   */
  async detail(owner: QuotaOwner): Promise<QuotaDetails> {
    const [limits, usage] = await Promise.all([this.limits(owner), this.usage(owner)]);
    const detail = {} as Record<QuotaResource, QuotaDetail>;
    for (const resource of QUOTA_RESOURCES) {
      detail[resource] = { limit: limits[resource], in_use: usage.inUse[resource], reserved: 0 };
    }
    const unavailable = new Map<string, UnavailableCell>();
    for (const cells of usage.uncounted.values()) {
      for (const cell of cells) if (!unavailable.has(cell.uuid)) unavailable.set(cell.uuid, cell);
    }
    return { detail, unavailable: [...unavailable.values()] };
  }

  /**
   * Sets limits, refusing (unless `force`) any below what is in use, or,
   * for a user, above what the project has left to give; for a project,
   * below what its users were already given. Values below -1 are refused
   * even with `force` (Nova would store them as another way of saying
   * unlimited).
   */
  async update(owner: QuotaOwner, requested: LimitRows, force: boolean): Promise<QuotaLimits> {
    for (const [resource, limit] of Object.entries(requested)) {
      if (limit < -1) {
        throw new InvalidInput(
          `Quota limit ${limit} for ${resource} must be greater than or equal to -1.`,
        );
      }
    }
    if (!force) {
      const settable = await this.settable(owner, Object.keys(requested) as QuotaResource[]);
      for (const [resource, limit] of Object.entries(requested) as [QuotaResource, number][]) {
        const { minimum, maximum } = settable[resource];
        if (finite(limit) < finite(minimum)) {
          throw new InvalidInput(
            `Quota limit ${limit} for ${resource} must be greater than or equal to already used and reserved ${minimum}.`,
          );
        }
        if (finite(limit) > finite(maximum)) {
          throw new InvalidInput(
            `Quota limit ${limit} for ${resource} must be less than or equal to ${maximum}.`,
          );
        }
      }
    }
    await store.setLimits(this.api, owner, requested);
    return this.limits(owner);
  }

  /** Back to the defaults (os-quota-sets delete). */
  async reset(owner: QuotaOwner): Promise<void> {
    await store.deleteLimits(this.api, owner);
  }

  /**
   * The range each limit may be set to (Nova's get_settable_quotas). The
   * usage of a resource being set must be complete: a cell that could not
   * be counted makes the lowest allowed limit unknowable, so that is a 503
   * naming the cell rather than a limit set below what is in use.
   */
  private async settable(
    owner: QuotaOwner,
    setting: readonly QuotaResource[],
  ): Promise<Record<QuotaResource, { minimum: number; maximum: number }>> {
    const [projectLimits, given, { inUse, uncounted }] = await Promise.all([
      this.limits({ projectId: owner.projectId }),
      store.limitsGivenToUsers(this.api.db, owner.projectId),
      this.usage(owner),
    ]);
    for (const resource of setting) {
      const [cell] = uncounted.get(resource) ?? [];
      if (cell) {
        throw new CellUnavailable(
          cell.name ?? cell.uuid,
          `${cell.reason}; cannot count the ${resource} in use by project ${owner.projectId} there`,
        );
      }
    }
    const ownOfUser =
      owner.userId === undefined
        ? {}
        : await store.userLimits(this.api.db, owner.projectId, owner.userId);
    const settable = {} as Record<QuotaResource, { minimum: number; maximum: number }>;
    for (const resource of QUOTA_RESOURCES) {
      const limit = projectLimits[resource];
      // Nova's "remains": the project's limit less what its users were given (a plain difference).
      const remains = limit - (given[resource] ?? 0);
      settable[resource] =
        owner.userId === undefined
          ? { minimum: Math.max(minus(limit, remains), inUse[resource]), maximum: -1 }
          : { minimum: inUse[resource], maximum: plus(remains, ownOfUser[resource] ?? 0) };
    }
    return settable;
  }

  /** Usage per resource, and which cells each count went without. */
  private async usage(owner: QuotaOwner): Promise<Usage> {
    const [groups, instances] = await Promise.all([
      this.groups.countGroups(owner),
      this.instances.countInstances(owner),
    ]);
    const inUse = {} as Record<QuotaResource, number>;
    for (const resource of QUOTA_RESOURCES) inUse[resource] = 0;
    inUse.server_groups = groups.count;
    // Nova counts a user's instances when a user is asked for, else the project's.
    const counted = (owner.userId === undefined ? instances.project : instances.user) ?? {
      instances: 0,
      cores: 0,
      ram: 0,
    };
    inUse.instances = counted.instances;
    inUse.cores = counted.cores;
    inUse.ram = counted.ram;
    const withoutCells = [...instances.unavailable, ...instances.withoutUsageColumns];
    return {
      inUse,
      uncounted: new Map<QuotaResource, readonly UnavailableCell[]>([
        ['server_groups', groups.unavailable],
        ['instances', instances.unavailable],
        ['cores', withoutCells],
        ['ram', withoutCells],
      ]),
    };
  }
}
