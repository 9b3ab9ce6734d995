import type { KyselyPlugin } from 'kysely';
import { openDatabase, unopenableDatabase, type Database } from '../db/connection.js';
import type { PoolOptions } from '../db/dialects/index.js';
import type { ApiDatabase } from '../db/schema/api.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { Cell } from './cell.js';
import { CellMappings, type CellMapping } from './cell-mappings.js';
import { GroupCells } from './group-cells.js';
import { InstanceColumnsKnown, type InstanceColumns } from './instances.js';

export type { Cell } from './cell.js';

export interface CellPoolOptions {
  /** Connections per cell database (they are many: keep it small). */
  readonly pool?: Partial<PoolOptions>;
  /** How long the list of cells is reused before cell_mappings is read again. */
  readonly mappingsTtlMs?: number;
  /**
   * How long a cell's schema version that still allows legacy groups is
   * trusted before it is read again (a version past the blocker is kept).
   */
  readonly schemaTtlMs?: number;
  /** Kysely plugins on every cell database (e.g. to count or trace statements). */
  readonly plugins?: readonly KyselyPlugin[];
}

/**
 * The cell databases, opened lazily (a cell nobody asks about costs
 * nothing), one pool per cell, all closed by `close()`. The cell list comes
 * from cell_mappings and is re-read after a short time, so a new cell is
 * seen without a restart.
 */
export class CellPool {
  private readonly registry: CellMappings;
  private readonly handles = new Map<string, Database<CellDatabase>>();
  private cached: { at: number; cells: readonly CellMapping[] } | undefined;
  private readonly groupCellsKnown: GroupCells;
  private readonly instanceColumnsKnown: InstanceColumnsKnown;

  constructor(
    api: Database<ApiDatabase>,
    private readonly options: CellPoolOptions = {},
  ) {
    this.registry = new CellMappings(api);
    this.groupCellsKnown = new GroupCells(options.schemaTtlMs ?? 5_000);
    this.instanceColumnsKnown = new InstanceColumnsKnown(options.schemaTtlMs ?? 5_000);
  }

  /** Every mapped cell with a database, cell0 included, in mapping order. */
  async cells(): Promise<Cell[]> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > (this.options.mappingsTtlMs ?? 5_000)) {
      this.cached = { at: now, cells: await this.registry.list() };
    }
    return this.cached.cells.filter((m) => m.databaseConnection).map((m) => this.cell(m));
  }

  /**
   * The cells that may still hold live groups, for group reads and writes
   * only (see GroupCells): every cell but those known to be past the
   * blocker migration. A cell listed here may still turn out settled when
   * `mayHoldGroups` reads its version.
   */
  async groupCells(): Promise<Cell[]> {
    return (await this.cells()).filter((cell) => !this.groupCellsKnown.settled(cell));
  }

  /** Whether a cell may still hold live groups (its schema version, cached; see GroupCells). */
  mayHoldGroups(cell: Cell): Promise<boolean> {
    return this.groupCellsKnown.mayHoldGroups(cell);
  }

  /** Which later columns the cell's `instances` has (cached; see InstanceColumnsKnown). */
  instanceColumns(cell: Cell): Promise<InstanceColumns> {
    return this.instanceColumnsKnown.of(cell);
  }

  /** Forgets the cached cell list (after the registry changed). */
  refresh(): void {
    this.cached = undefined;
  }

  private cell(mapping: CellMapping): Cell {
    const url = mapping.databaseConnection ?? '';
    // Keyed by uuid and URL: a cell whose URL was updated gets a new handle.
    const key = `${mapping.uuid} ${url}`;
    let database = this.handles.get(key);
    if (!database) {
      try {
        database = openDatabase<CellDatabase>(url, {
          pool: { maxConnections: 2, connectTimeoutMs: 5_000, ...this.options.pool },
          ...(this.options.plugins ? { plugins: this.options.plugins } : {}),
        });
      } catch (error) {
        database = unopenableDatabase<CellDatabase>(
          url,
          error instanceof Error ? error : new Error(String(error)),
        );
      }
      this.handles.set(key, database);
    }
    return { mapping, database };
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    this.groupCellsKnown.forget();
    this.instanceColumnsKnown.forget();
    await Promise.allSettled(handles.map((h) => h.close()));
  }
}
