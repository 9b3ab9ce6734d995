import type { CellPool } from '../cells/cell-pool.js';
import { fanOut, type FanOutOptions, type UnavailableCell } from '../cells/fan-out.js';
import type { Database } from '../db/connection.js';
import type { ApiDatabase } from '../db/schema/api.js';
import { listInApi, uuidsInApi, type GroupFilter } from './api-store.js';
import { listInCell } from './cell-store.js';
import { compareGroups, type InstanceGroup } from './group.js';

export interface Page {
  readonly limit?: number;
  readonly offset?: number;
}

export interface MergedList {
  readonly groups: InstanceGroup[];
  /** Cells that did not answer: their groups are missing from `groups`. */
  readonly unavailable: UnavailableCell[];
}

/**
 * The union of the API database and every cell, each uuid once (the API copy
 * wins), in list order, with offset and limit applied to the merged result.
 *
 * A page needs at most `offset + limit` groups from each database, so each
 * is asked for its first `offset + limit` in the same order (one query, plus
 * one for policies and members of what it returned). Cell copies that an
 * API copy shadows (left by a crash mid-migration) are dropped; a cell that
 * lost rows that way and may have more is asked again, deeper, so the page
 * is still full. Memory is bounded by (cells + 1) × (offset + limit).
 */
export async function listMerged(
  api: Database<ApiDatabase>,
  pool: CellPool,
  fan: FanOutOptions,
  filter: GroupFilter,
  page: Page,
): Promise<MergedList> {
  const offset = page.offset ?? 0;
  const want = page.limit === undefined ? undefined : offset + page.limit;

  const fromApi = listInApi(api.db, filter, want);
  const fromCells = fanOut(
    await pool.cells(),
    async (cell) => {
      const ref = { uuid: cell.mapping.uuid, name: cell.mapping.name };
      for (let depth = want; ;) {
        const rows = await listInCell(cell.database.db, ref, filter, depth);
        const shadowed = await uuidsInApi(
          api.db,
          rows.map((g) => g.uuid),
        );
        const kept = rows.filter((g) => !shadowed.has(g.uuid));
        // Complete when the cell has no more rows, or enough survived.
        if (depth === undefined || rows.length < depth || want === undefined || kept.length >= want)
          return kept;
        depth += shadowed.size;
      }
    },
    fan,
  );
  const [apiGroups, cells] = await Promise.all([fromApi, fromCells]);

  const seen = new Set(apiGroups.map((g) => g.uuid));
  const merged = [...apiGroups];
  for (const { value } of cells.answers) {
    for (const group of value) {
      // Two cells holding one uuid should not happen; show the first cell's.
      if (seen.has(group.uuid)) continue;
      seen.add(group.uuid);
      merged.push(group);
    }
  }
  merged.sort(compareGroups);
  return {
    groups: merged.slice(offset, want),
    unavailable: cells.unavailable,
  };
}
