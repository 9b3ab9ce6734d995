import type { Database } from '../db/connection.js';
import { LEGACY_GROUPS_VERSION } from '../db/migrations/cell/002-instance-groups-moved.js';
import { readSchemaVersion } from '../db/migrations/migrator.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { Cell } from './cell.js';
import { fanOut, type FanOutOptions, type FanOutResult } from './fan-out.js';

/** A version read under way, shared by the callers that come meanwhile. */
interface Reading {
  readonly since: number;
  readonly mayHold: Promise<boolean>;
}

/** A cell last seen at a version that allows legacy groups (or not seen yet, or unreadable). */
interface Legacy {
  readonly settled: false;
  readonly checkedAt: number;
  pending?: Reading;
}

/** What is known of one cell database: settled for good, or legacy as of `checkedAt`. */
type Known = { readonly settled: true } | Legacy;

/**
 * A version read still unanswered after this long is given up (a new caller
 * reads again): a connection that hangs for good must not leave the cell
 * "being read" forever once it recovers. Meanwhile every caller's fan-out
 * timeout still bounds its wait.
 */
const READ_GIVEN_UP_AFTER_MS = 10_000;

/**
 * Which cell databases may still hold live server groups.
 *
 * NOTE: a cell synced past LEGACY_GROUPS_VERSION ran the blocker migration
 * (cell/002-instance-groups-moved.ts), which refuses while the cell holds a
 * live group; cellgroups never writes a group to a cell, and schemas only go
 * forward. So such a cell can never hold a live group again, and that answer
 * is kept for the life of the pool. A cell still at version 1 (or 0) may be
 * synced to 2 at any moment, so its version is read again after `ttlMs`.
 * A version that cannot be read (cell down, not a cell database) counts as
 * "may hold": the cell is then asked as before, and a fan-out reports it
 * unavailable exactly as it would have. Only group reads and writes may skip
 * cells this way: instances live in every cell, and the online migration
 * must look at every cell (it is what lets the blocker pass).
 */
export class GroupCells {
  // Keyed by the pool's handle: a cell whose URL changed is a new database.
  private readonly known = new Map<Database<CellDatabase>, Known>();

  constructor(private readonly ttlMs: number) {}

  /** True when the cell is known to be past the blocker; no database read. */
  settled(cell: Cell): boolean {
    return this.known.get(cell.database)?.settled === true;
  }

  /** Whether the cell may still hold live groups; concurrent callers share one version read. */
  mayHoldGroups(cell: Cell): Promise<boolean> {
    const database = cell.database;
    const known = this.known.get(database);
    if (known?.settled) return Promise.resolve(false);
    const now = Date.now();
    if (known?.pending && now - known.pending.since <= READ_GIVEN_UP_AFTER_MS) {
      return known.pending.mayHold;
    }
    if (known && !known.pending && now - known.checkedAt <= this.ttlMs) {
      return Promise.resolve(true);
    }
    const entry: Legacy = {
      settled: false,
      checkedAt: known?.checkedAt ?? 0,
    };
    const mayHold = readSchemaVersion(database, 'cell')
      .then(
        (version) => version > LEGACY_GROUPS_VERSION,
        () => false,
      )
      .then((settled) => {
        // forget() may have run meanwhile (the pool closed): do not bring the entry back.
        if (this.known.get(database) === entry) {
          this.known.set(database, settled ? { settled } : { settled, checkedAt: Date.now() });
        }
        return !settled;
      });
    entry.pending = { since: now, mayHold };
    this.known.set(database, entry);
    return mayHold;
  }

  forget(): void {
    this.known.clear();
  }
}

/** What fanOutToGroupCells needs of a CellPool (which builds on GroupCells, so is not imported here). */
export interface GroupCellSource {
  groupCells(): Promise<Cell[]>;
  mayHoldGroups(cell: Cell): Promise<boolean>;
}

/**
 * A fan-out over the cells that may still hold live groups (see GroupCells):
 * a cell known to be past the blocker is not asked at all; one whose version
 * must be (re)read is read within the fan-out's timeout, so a hung cell
 * costs no more than before. Answers come only from the cells asked.
 */
export async function fanOutToGroupCells<T>(
  pool: GroupCellSource,
  ask: (cell: Cell) => Promise<T>,
  options: FanOutOptions,
): Promise<FanOutResult<T>> {
  const { answers, unavailable } = await fanOut(
    await pool.groupCells(),
    async (cell) => ((await pool.mayHoldGroups(cell)) ? { value: await ask(cell) } : undefined),
    options,
  );
  return {
    answers: answers.flatMap(({ cell, value }) => (value ? [{ cell, value: value.value }] : [])),
    unavailable,
  };
}
