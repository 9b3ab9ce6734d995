import type { Database } from '../db/connection.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { CellMapping } from './cell-mappings.js';

/** A cell and a handle on its database. */
export interface Cell {
  readonly mapping: CellMapping;
  readonly database: Database<CellDatabase>;
}
