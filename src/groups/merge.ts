import type { Cell, CellPool } from '../cells/cell-pool.js';
import { fanOut, type FanOutOptions, type UnavailableCell } from '../cells/fan-out.js';
import { fanOutToGroupCells } from '../cells/group-cells.js';
import type { Database } from '../db/connection.js';
import type { ApiDatabase } from '../db/schema/api.js';
import {
  getByUuidsInApi,
  hydrateInApi,
  pageAndMovedInApi,
  type ApiGroupRecord,
  type GroupFilter,
} from './api-store.js';
import { hydrateInCell, listRowsInCell, type CellGroupRecord } from './cell-store.js';
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

type Candidate =
  | { readonly from: 'api'; readonly row: ApiGroupRecord }
  | { readonly from: 'cell'; readonly row: CellGroupRecord; readonly cell: Cell };

/**
 * The union of the API database and every cell, each uuid once (the API copy
 * wins), in list order, with offset and limit applied to the merged result.
 *
 * A page needs at most `offset + limit` groups from each database, so:
 * 1. every cell is asked, at once, for its first `offset + limit` group rows
 *    in list order (one statement each, rows only);
 * 2. then ONE statement on the API database returns its own first
 *    `offset + limit` rows together with the API rows of the cell rows it
 *    already holds (moved meanwhile, or copies a crash left behind
 *    mid-migration): such a cell row is replaced by its API row, so every
 *    cell row read stays a candidate, from one side or the other; a cell
 *    that lost rows that way and may hold more is asked again, deeper (an
 *    API copy need not sort where its cell copy did), so the page stays full;
 * 3. the rows are merged and the page cut;
 * 4. only the page's groups get their policies and members (two statements
 *    per database that has a group on the page).
 * Memory is bounded by (cells + 1) × (offset + limit) rows, never the table.
 */
export async function listMerged(
  api: Database<ApiDatabase>,
  pool: CellPool,
  fan: FanOutOptions,
  filter: GroupFilter,
  page: Page,
): Promise<MergedList> {
  const offset = page.offset ?? 0;
  // A page past any table's end asks for no more rows than a statement's LIMIT can take
  // (PostgreSQL refuses one past a bigint); it comes out empty all the same.
  const want =
    page.limit === undefined ? undefined : Math.min(offset + page.limit, Number.MAX_SAFE_INTEGER);

  // NOTE: cells first, then the API database, in one statement. The online
  // migration commits a group's API copy before it removes the cell copy, so
  // a group moving meanwhile is in the cells' answers or in that snapshot of
  // the API database; the page and the "already moved" check share the
  // snapshot, so no batch can commit between them (PROTOCOL.md, "Readers").
  // Cells past the blocker migration hold no live group and are not asked (group-cells.ts).
  const cellRows = await fanOutToGroupCells(
    pool,
    (cell) => listRowsInCell(cell.database.db, filter, want),
    fan,
  );
  const { rows: apiRows, moved } = await pageAndMovedInApi(
    api.db,
    filter,
    want,
    cellRows.answers.flatMap((a) => a.value.map((r) => r.uuid)),
  );
  const unavailable = [...cellRows.unavailable];

  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const row of apiRows) addCandidate(candidates, seen, { from: 'api', row });
  const movedByUuid = new Map(moved.map((r) => [r.uuid, r]));
  const deeper: { cell: Cell; kept: CellGroupRecord[] }[] = [];
  for (const { cell, value } of cellRows.answers) {
    const kept = value.filter((r) => !movedByUuid.has(r.uuid));
    addCells(candidates, seen, cell, value, movedByUuid);
    // An API copy need not sort where its cell copy did (ids differ, ties on
    // created_at are common): a cell that lost rows that way and may hold
    // more is asked deeper, so the page stays full.
    if (want !== undefined && value.length === want && kept.length < want)
      deeper.push({ cell, kept });
  }
  for (const { cell, kept } of deeper) {
    const more = await refill(api, cell, filter, want ?? 0, kept);
    addCells(candidates, seen, cell, more.rows, more.moved);
  }

  candidates.sort((a, b) => compareGroups(a.row, b.row));
  const onPage = candidates.slice(offset, want);
  return { groups: await hydratePage(api, fan, onPage, unavailable), unavailable };
}

function addCandidate(candidates: Candidate[], seen: Set<string>, candidate: Candidate): void {
  // Two cells holding one uuid should not happen; show the first one read.
  if (seen.has(candidate.row.uuid)) return;
  seen.add(candidate.row.uuid);
  candidates.push(candidate);
}

/** A cell's rows as candidates; one with an API copy (moved) is its API row instead. */
function addCells(
  candidates: Candidate[],
  seen: Set<string>,
  cell: Cell,
  rows: readonly CellGroupRecord[],
  moved: ReadonlyMap<string, ApiGroupRecord>,
): void {
  for (const row of rows) {
    const inApi = moved.get(row.uuid);
    addCandidate(
      candidates,
      seen,
      inApi ? { from: 'api', row: inApi } : { from: 'cell', row, cell },
    );
  }
}

/**
 * Asks a cell deeper until `want` of its rows have no API copy, or it has no
 * more. Each round reads the cell first, then the API rows of what it read
 * in one statement; rows are only ever added (the rows `kept` before stay
 * candidates even if they moved since: hydration then reads their API copy),
 * so a group seen once is not lost by a later, newer read.
 */
async function refill(
  api: Database<ApiDatabase>,
  cell: Cell,
  filter: GroupFilter,
  want: number,
  kept: readonly CellGroupRecord[],
): Promise<{ rows: CellGroupRecord[]; moved: Map<string, ApiGroupRecord> }> {
  let depth = want;
  let survivors = kept.length;
  for (;;) {
    depth += want - survivors;
    const all = await listRowsInCell(cell.database.db, filter, depth);
    const { moved } = await pageAndMovedInApi(
      api.db,
      filter,
      0,
      all.map((r) => r.uuid),
    );
    const movedByUuid = new Map(moved.map((r) => [r.uuid, r]));
    survivors = all.filter((r) => !movedByUuid.has(r.uuid)).length;
    if (all.length < depth || survivors >= want) {
      const read = new Set(all.map((r) => r.uuid));
      return { rows: [...kept.filter((r) => !read.has(r.uuid)), ...all], moved: movedByUuid };
    }
  }
}

/** Policies and members for the page's groups only, from each database that has one, at once. */
async function hydratePage(
  api: Database<ApiDatabase>,
  fan: FanOutOptions,
  onPage: Candidate[],
  unavailable: UnavailableCell[],
): Promise<InstanceGroup[]> {
  const apiRows: ApiGroupRecord[] = [];
  const byCell = new Map<Cell, CellGroupRecord[]>();
  for (const c of onPage) {
    if (c.from === 'api') apiRows.push(c.row);
    else byCell.set(c.cell, [...(byCell.get(c.cell) ?? []), c.row]);
  }
  const [fromApi, fromCells] = await Promise.all([
    hydrateInApi(api.db, apiRows),
    fanOut(
      [...byCell.keys()],
      (cell) =>
        hydrateInCell(
          cell.database.db,
          { uuid: cell.mapping.uuid, name: cell.mapping.name },
          byCell.get(cell) ?? [],
        ),
      fan,
    ),
  ]);
  // A cell that answered for its rows but not for their details is reported, and its rows left out.
  unavailable.push(...fromCells.unavailable);
  const hydrated = new Map<string, InstanceGroup>();
  for (const g of fromApi) hydrated.set(`api ${g.uuid}`, g);
  // A cell copy moved while it was read may have lost its members under the
  // read; its API copy (committed first) is then read instead.
  const moved = new Map(
    (
      await getByUuidsInApi(
        api.db,
        fromCells.answers.flatMap((a) => a.value.map((g) => g.uuid)),
      )
    ).map((g) => [g.uuid, g]),
  );
  for (const { cell, value } of fromCells.answers) {
    for (const g of value) hydrated.set(`${cell.mapping.uuid} ${g.uuid}`, moved.get(g.uuid) ?? g);
  }
  return onPage.flatMap((c) => {
    const g = hydrated.get(`${c.from === 'api' ? 'api' : c.cell.mapping.uuid} ${c.row.uuid}`);
    return g ? [g] : [];
  });
}
