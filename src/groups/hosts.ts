import type { CellPool } from '../cells/cell-pool.js';
import { fanOut, type FanOutOptions, type UnavailableCell } from '../cells/fan-out.js';
import { liveInstance } from '../cells/instances.js';
import type { Database } from '../db/connection.js';
import type { ApiDatabase } from '../db/schema/api.js';

/** One member that is a live instance, and its host (null while not scheduled). */
export interface LiveMember {
  readonly instanceUuid: string;
  readonly host: string | null;
  readonly userId: string | null;
  /** The cell whose database holds the instance; null while not scheduled. */
  readonly cellUuid: string | null;
}

export interface LiveMembers {
  /** In the order of `instanceUuids`. */
  readonly members: LiveMember[];
  readonly unavailable: UnavailableCell[];
}

/** Whose instances a lookup may see: Nova's instance query adds the caller's project unless admin. */
export interface MemberViewer {
  readonly projectId: string;
  readonly isAdmin: boolean;
}

/** A live member found in a cell, with what Nova sorts a cell's instances by. */
interface Found extends LiveMember {
  readonly createdAt: Date | null;
  readonly id: number;
}

/**
 * What one lookup found for a set of instance uuids: each one's mapping (its
 * cell, or null while it is being scheduled) and the live instances.
 */
export class MemberLookup {
  constructor(
    /** Each mapped uuid's cell id (null: not scheduled yet) and user. */
    private readonly mappings: ReadonlyMap<
      string,
      { cellId: number | null; userId: string | null }
    >,
    private readonly found: ReadonlyMap<string, Found>,
    readonly unavailable: UnavailableCell[],
  ) {}

  /**
   * The live members among `uuids`, in the order Nova's `_get_not_deleted`
   * (nova/api/openstack/compute/server_groups.py) lists them: the members
   * not scheduled yet first, then cell by cell in the order the cells first
   * appear among the members' mappings, each cell's instances newest first
   * (Nova's instance query sorts by created_at, then id, descending). Nova's
   * mapping query has no ORDER BY; MariaDB reads it along the unique index
   * on instance_uuid, so mappings are taken in uuid order here.
   */
  membersOf(uuids: readonly string[]): LiveMember[] {
    const mapped = [...new Set(uuids)]
      .filter((u) => this.mappings.has(u))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const unscheduled: LiveMember[] = [];
    const byCell = new Map<number, Found[]>();
    for (const uuid of mapped) {
      const { cellId = null, userId = null } = this.mappings.get(uuid) ?? {};
      if (cellId === null) {
        unscheduled.push({ instanceUuid: uuid, host: null, userId, cellUuid: null });
        continue;
      }
      const list = byCell.get(cellId) ?? [];
      byCell.set(cellId, list);
      const member = this.found.get(uuid);
      if (member) list.push(member);
    }
    const newestFirst = (a: Found, b: Found) =>
      // MariaDB sorts NULL below any date: last when descending.
      compareDesc(a.createdAt?.getTime() ?? null, b.createdAt?.getTime() ?? null) ||
      compareDesc(a.id, b.id);
    const inCells = [...byCell.values()].flatMap((list) =>
      list.sort(newestFirst).map(({ instanceUuid, host, userId, cellUuid }) => ({
        instanceUuid,
        host,
        userId,
        cellUuid,
      })),
    );
    return [...unscheduled, ...inCells];
  }
}

function compareDesc(a: number | null, b: number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return b - a;
}

/**
 * Which of `instanceUuids` are live instances, found as Nova finds them:
 * through instance_mappings, then in each cell's `instances` (the cells
 * asked in parallel). A member mapped to no cell yet is live (it is being
 * scheduled) and has no host; one with no mapping, or whose instance row is
 * missing, deleted, soft-deleted (vm_state soft-delete) or hidden (the copy a
 * cross-cell resize leaves in the source cell) is not live. With
 * a `viewer` who is not admin, instances of other projects are not found
 * (Nova's instance query adds the project); unscheduled members are not
 * filtered, as in Nova.
 */
export async function lookupMembers(
  api: Database<ApiDatabase>,
  pool: CellPool,
  fan: FanOutOptions,
  instanceUuids: readonly string[],
  viewer?: MemberViewer,
): Promise<MemberLookup> {
  if (instanceUuids.length === 0) return new MemberLookup(new Map(), new Map(), []);
  const mappings = await api.db
    .selectFrom('instance_mappings')
    .select(['instance_uuid', 'cell_id', 'user_id'])
    .where('instance_uuid', 'in', [...new Set(instanceUuids)])
    .execute();
  const mapped = new Map<string, { cellId: number | null; userId: string | null }>();
  const byCell = new Map<number, string[]>();
  for (const m of mappings) {
    mapped.set(m.instance_uuid, { cellId: m.cell_id, userId: m.user_id });
    if (m.cell_id !== null)
      byCell.set(m.cell_id, [...(byCell.get(m.cell_id) ?? []), m.instance_uuid]);
  }
  const projectId = viewer && !viewer.isAdmin ? viewer.projectId : undefined;
  const cells = (await pool.cells()).filter((c) => byCell.has(c.mapping.id));
  const { answers, unavailable } = await fanOut(
    cells,
    async (cell) => {
      let query = cell.database.db
        .selectFrom('instances')
        .select(['id', 'uuid', 'host', 'user_id', 'created_at'])
        .where('uuid', 'in', byCell.get(cell.mapping.id) ?? [])
        .where(liveInstance(await pool.instanceColumns(cell)));
      if (projectId !== undefined) query = query.where('project_id', '=', projectId);
      return query.execute();
    },
    fan,
  );
  const found = new Map<string, Found>();
  for (const { cell, value } of answers) {
    for (const row of value) {
      found.set(row.uuid, {
        instanceUuid: row.uuid,
        host: row.host,
        userId: row.user_id,
        cellUuid: cell.mapping.uuid,
        createdAt: row.created_at,
        id: row.id,
      });
    }
  }
  return new MemberLookup(mapped, found, unavailable);
}

/** The live members among `instanceUuids`, in Nova's order (see MemberLookup.membersOf). */
export async function liveMembers(
  api: Database<ApiDatabase>,
  pool: CellPool,
  fan: FanOutOptions,
  instanceUuids: readonly string[],
  viewer?: MemberViewer,
): Promise<LiveMembers> {
  const lookup = await lookupMembers(api, pool, fan, instanceUuids, viewer);
  return { members: lookup.membersOf(instanceUuids), unavailable: lookup.unavailable };
}
