import type { CellPool } from '../cells/cell-pool.js';
import { fanOut, type FanOutOptions, type UnavailableCell } from '../cells/fan-out.js';
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

/**
 * Which of `instanceUuids` are live instances, found as Nova finds them:
 * through instance_mappings, then in each cell's `instances` (the cells
 * asked in parallel). A member mapped to no cell yet is live (it is being
 * scheduled) and has no host; one with no mapping, or whose instance row is
 * missing or soft-deleted, is not live.
 */
export async function liveMembers(
  api: Database<ApiDatabase>,
  pool: CellPool,
  fan: FanOutOptions,
  instanceUuids: readonly string[],
): Promise<LiveMembers> {
  if (instanceUuids.length === 0) return { members: [], unavailable: [] };
  const mappings = await api.db
    .selectFrom('instance_mappings')
    .select(['instance_uuid', 'cell_id', 'user_id'])
    .where('instance_uuid', 'in', [...instanceUuids])
    .execute();
  const found = new Map<string, LiveMember>();
  const byCell = new Map<number, string[]>();
  for (const m of mappings) {
    if (m.cell_id === null) {
      found.set(m.instance_uuid, {
        instanceUuid: m.instance_uuid,
        host: null,
        userId: m.user_id,
        cellUuid: null,
      });
    } else {
      byCell.set(m.cell_id, [...(byCell.get(m.cell_id) ?? []), m.instance_uuid]);
    }
  }
  const cells = (await pool.cells()).filter((c) => byCell.has(c.mapping.id));
  const { answers, unavailable } = await fanOut(
    cells,
    (cell) =>
      cell.database.db
        .selectFrom('instances')
        .select(['uuid', 'host', 'user_id'])
        .where('uuid', 'in', byCell.get(cell.mapping.id) ?? [])
        .where('deleted', '=', 0)
        .execute(),
    fan,
  );
  for (const { cell, value } of answers) {
    for (const row of value) {
      found.set(row.uuid, {
        instanceUuid: row.uuid,
        host: row.host,
        userId: row.user_id,
        cellUuid: cell.mapping.uuid,
      });
    }
  }
  const members = instanceUuids.flatMap((uuid) => {
    const member = found.get(uuid);
    return member ? [member] : [];
  });
  return { members, unavailable };
}
