import type { Transaction } from 'kysely';
import type { Cell, CellPool } from '../cells/cell-pool.js';
import type { FanOutOptions } from '../cells/fan-out.js';
import { fanOutToGroupCells } from '../cells/group-cells.js';
import type { Database } from '../db/connection.js';
import { withRetry } from '../db/retry.js';
import type { ApiDatabase } from '../db/schema/api.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { RequestContext } from '../context.js';
import { CellUnavailable, DbError, GroupNotFound, LockTimeout } from '../errors.js';
import { deleteInApi, getByUuidInApi, lockInApi, touchInApi, uuidsInApi } from './api-store.js';
import {
  getByUuidInCell,
  hasLiveInCell,
  lockInCell,
  softDeleteInCell,
  touchInCell,
  type CellRef,
} from './cell-store.js';
import type { InstanceGroup } from './group.js';

/**
 * The only place that knows a group may live in the API database or in a
 * cell database. Reads look in the API database first and fall back to the
 * cells; writes act on the authoritative copy (the API copy when there is
 * one). Nova repeated this try/except in every method; here it is once.
 */
export type Located =
  | { readonly kind: 'api'; readonly group: InstanceGroup }
  | { readonly kind: 'cell'; readonly group: InstanceGroup; readonly cell: Cell };

/** A lookup by some key, in each kind of database. */
export interface Lookup {
  /** For messages: what was looked for. */
  readonly ref: string;
  inApi(db: Database<ApiDatabase>['db']): Promise<InstanceGroup | undefined>;
  inCell(db: Database<CellDatabase>['db'], cell: CellRef): Promise<InstanceGroup | undefined>;
}

/** The write to make, on whichever copy is authoritative; `id` is the locked group row. */
export interface Write<T> {
  api(tx: Transaction<ApiDatabase>, id: number): Promise<T>;
  cell(tx: Transaction<CellDatabase>, id: number, cell: Cell): Promise<T>;
}

const MOVED = Symbol('moved');

/**
 * A key some database could hold. PostgreSQL refuses a NUL in text with an
 * error rather than finding no row, so a uuid with one (`/os-server-groups/%00`)
 * is not asked of any database: no group has it.
 */
function storable(key: string): boolean {
  return !key.includes('\u0000');
}

/** How long a write waits for a cell row another transaction holds, unless told (`[cellgroups] lock_wait_timeout`). */
export const DEFAULT_LOCK_WAIT_MS = 3_000;

export class GroupLocator {
  constructor(
    private readonly api: Database<ApiDatabase>,
    private readonly cells: CellPool,
    private readonly fan: FanOutOptions,
    private readonly lockWaitMs = DEFAULT_LOCK_WAIT_MS,
  ) {}

  /**
   * A write transaction on one copy of group `uuid`, its lock waits bounded:
   * the row may be held by a migration batch (or a migration process stopped
   * mid-batch, or another writer), and a request must not wait for as long as
   * that lasts. It gives up with LockTimeout after `lockWaitMs`, having
   * changed nothing (docs/write-bounds.md). `where` names the database.
   */
  private async bounded<DB, T>(
    database: Database<DB>,
    where: string,
    uuid: string,
    work: (tx: Transaction<DB>) => Promise<T>,
  ): Promise<T> {
    try {
      return await withRetry(database, () =>
        database.engine.boundedTransaction(database.db, this.lockWaitMs, work),
      );
    } catch (error) {
      if (!(error instanceof LockTimeout)) throw error;
      throw new LockTimeout(
        `Instance group ${uuid} is locked in ${where} (an online migration batch or another ` +
          `write holds it) for longer than ${this.lockWaitMs / 1000} s ` +
          '([cellgroups] lock_wait_timeout); nothing was changed, try again.',
        { cause: error },
      );
    }
  }

  private inCell<T>(
    cell: Cell,
    uuid: string,
    work: (tx: Transaction<CellDatabase>) => Promise<T>,
  ): Promise<T> {
    return this.bounded(
      cell.database,
      `cell ${cell.mapping.name ?? cell.mapping.uuid}`,
      uuid,
      work,
    );
  }

  private inApi<T>(uuid: string, work: (tx: Transaction<ApiDatabase>) => Promise<T>): Promise<T> {
    return this.bounded(this.api, 'the API database', uuid, work);
  }

  /**
   * API database first, then every cell (in cell order; the first cell that
   * has it wins). Throws GroupNotFound when no database has it, or
   * CellUnavailable when it is not found but a cell did not answer (the
   * group may be there: "not found" would be a lie).
   */
  async find(lookup: Lookup): Promise<Located> {
    const inApi = await lookup.inApi(this.api.db);
    if (inApi) return { kind: 'api', group: inApi };
    return this.findInCells(lookup);
  }

  /**
   * NOTE: the online migration commits a group's API copy before it
   * soft-deletes the cell copy. A reader that missed the API copy and then
   * finds the cell copy gone (or half gone: its members soft-deleted under
   * the read) looks in the API database once more, and finds the group
   * there. So a group being moved is never "not found", nor read empty.
   */
  private async findInCells(lookup: Lookup): Promise<Located> {
    // Only cells that may still hold groups: past the blocker a cell has none (group-cells.ts).
    const { answers, unavailable } = await fanOutToGroupCells(
      this.cells,
      (cell) =>
        lookup.inCell(cell.database.db, { uuid: cell.mapping.uuid, name: cell.mapping.name }),
      this.fan,
    );
    for (const { cell, value } of answers) {
      if (!value) continue;
      const moved = await getByUuidInApi(this.api.db, value.uuid);
      return moved ? { kind: 'api', group: moved } : { kind: 'cell', group: value, cell };
    }
    const movedMeanwhile = await lookup.inApi(this.api.db);
    if (movedMeanwhile) return { kind: 'api', group: movedMeanwhile };
    const [down] = unavailable;
    if (down) {
      throw new CellUnavailable(
        down.name ?? down.uuid,
        `${down.reason}; instance group ${lookup.ref} may be there (${unavailable.length} cell(s) did not answer)`,
      );
    }
    throw new GroupNotFound(lookup.ref);
  }

  /**
   * Runs `write` on the authoritative copy of group `uuid`.
   *
   * NOTE: on a cell copy the writer locks the group row, then checks the API
   * database while holding that lock. The online migration takes the same
   * lock, copies the group to the API database, and soft-deletes the cell
   * copy before releasing it. So a writer either runs wholly before the
   * migration reads the group (its change is copied), or finds the cell copy
   * gone or an API copy present (a migration committed, perhaps crashing
   * before its cell side) and writes to the API copy instead. No write lands
   * on a cell copy after it was copied.
   */
  async write<T>(uuid: string, write: Write<T>, ctx: RequestContext): Promise<T> {
    if (!storable(uuid)) throw new GroupNotFound(uuid);
    // The access check reads the locked row itself: no lookup before the write.
    const allowed = (projectId: string | null) => {
      if (!ctx.isAdmin && projectId !== ctx.projectId) throw new GroupNotFound(uuid);
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const inApi = await this.inApi(uuid, async (tx) => {
        const locked = await lockInApi(tx, this.api.engine, uuid);
        if (locked === undefined) return MOVED;
        allowed(locked.project_id);
        await touchInApi(tx, locked.id);
        return { value: await write.api(tx, locked.id) };
      });
      if (inApi !== MOVED) return inApi.value;

      const located = await this.findInCells(lookupByUuid(uuid));
      if (located.kind !== 'cell') continue;
      const { cell } = located;
      const inCell = await this.inCell(cell, uuid, async (tx) => {
        const locked = await lockInCell(tx, cell.database.engine, uuid);
        if (locked === undefined) return MOVED; // moved or deleted meanwhile
        if ((await uuidsInApi(this.api.db, [uuid])).size > 0) return MOVED;
        allowed(locked.project_id);
        await touchInCell(tx, locked.id);
        return { value: await write.cell(tx, locked.id, cell) };
      });
      if (inCell !== MOVED) return inCell.value;
    }
    throw new DbError(`Instance group ${uuid} kept moving between databases; try again.`);
  }

  /**
   * Deletes group `uuid` from every database that holds a copy: each live
   * cell copy is soft-deleted first, then the API copy is deleted.
   * GroupNotFound when no database had it.
   *
   * NOTE: a migration killed between its API commit and its cell commit
   * leaves the group in both databases. The API copy hides the cell copy
   * from every read, and the next run drops the cell copy without copying
   * it; but only while the API copy exists. So the API copy goes last,
   * after every cell copy was retired under its row lock (the lock the
   * migration holds from reading a batch to its cell commit): once this
   * answers, no copy is left to reappear in reads, lists or the next run.
   * A legacy cell that does not answer may hold a copy, so the delete is
   * refused (CellUnavailable) rather than reported done and undone later.
   */
  async delete(uuid: string, ctx: RequestContext): Promise<void> {
    if (!storable(uuid)) throw new GroupNotFound(uuid);
    const allowed = (projectId: string | null) => {
      if (!ctx.isAdmin && projectId !== ctx.projectId) throw new GroupNotFound(uuid);
    };
    const retired = await this.retireCellCopies(uuid, allowed);
    const deleted = await this.inApi(uuid, async (tx) => {
      const locked = await lockInApi(tx, this.api.engine, uuid);
      if (locked === undefined) return false;
      allowed(locked.project_id);
      await deleteInApi(tx, locked.id);
      return true;
    });
    if (!retired && !deleted) throw new GroupNotFound(uuid);
  }

  /**
   * Soft-deletes every live cell copy of `uuid`, each under its row lock;
   * whether one was. Nothing is changed when a cell that may hold groups
   * does not answer.
   */
  private async retireCellCopies(
    uuid: string,
    allowed: (projectId: string | null) => void,
  ): Promise<boolean> {
    const { answers, unavailable } = await fanOutToGroupCells(
      this.cells,
      (cell) => hasLiveInCell(cell.database.db, uuid),
      this.fan,
    );
    const [down] = unavailable;
    if (down) {
      throw new CellUnavailable(
        down.name ?? down.uuid,
        `${down.reason}; instance group ${uuid} may have a copy there, which would outlive the delete`,
      );
    }
    let retired = false;
    for (const { cell, value: live } of answers) {
      if (!live) continue;
      const done = await this.inCell(cell, uuid, async (tx) => {
        // Not live any more: the migration moved it meanwhile (the API copy goes next), or another delete won.
        const locked = await lockInCell(tx, cell.database.engine, uuid);
        if (locked === undefined) return false;
        allowed(locked.project_id);
        await softDeleteInCell(tx, locked.id);
        return true;
      });
      retired ||= done;
    }
    return retired;
  }
}

export function lookupByUuid(uuid: string): Lookup {
  if (!storable(uuid)) {
    return {
      ref: uuid,
      inApi: () => Promise.resolve(undefined),
      inCell: () => Promise.resolve(undefined),
    };
  }
  return {
    ref: uuid,
    inApi: (db) => getByUuidInApi(db, uuid),
    inCell: (db, cell) => getByUuidInCell(db, cell, uuid),
  };
}
