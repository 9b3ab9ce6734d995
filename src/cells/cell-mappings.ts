import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/connection.js';
import { dbFailure } from '../db/connection.js';
import { withRetry } from '../db/retry.js';
import type { ApiDatabase, CellMappingsTable } from '../db/schema/api.js';
import { CellExists, CellNotFound, InvalidInput } from '../errors.js';

/** cell0 holds the instances that were never scheduled; its uuid is fixed. */
export const CELL0_UUID = '00000000-0000-0000-0000-000000000000';

/** cell0's transport URL: RPC never targets cell0. */
export const CELL0_TRANSPORT_URL = 'none:///';

/** One row of `cell_mappings`. */
export interface CellMapping {
  readonly id: number;
  readonly uuid: string;
  readonly name: string | null;
  readonly transportUrl: string | null;
  readonly databaseConnection: string | null;
  readonly disabled: boolean;
  readonly createdAt: Date | null;
  readonly updatedAt: Date | null;
}

export function isCell0(cell: Pick<CellMapping, 'uuid'>): boolean {
  return cell.uuid === CELL0_UUID;
}

function fromRow(row: Selectable<CellMappingsTable>): CellMapping {
  return {
    id: row.id,
    uuid: row.uuid,
    name: row.name,
    transportUrl: row.transport_url,
    databaseConnection: row.database_connection,
    disabled: Boolean(row.disabled),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * oslo.messaging's first check of a transport URL: it needs a scheme
 * (`rabbit://…`, `none:///`). Returns the message nova-manage prints, or
 * undefined when the URL is acceptable.
 */
export function transportUrlProblem(url: string): string | undefined {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)
    ? undefined
    : `Invalid transport URL: No scheme specified in "${url}"`;
}

/** The registry of cells in the API database. */
export class CellMappings {
  constructor(private readonly api: Database<ApiDatabase>) {}

  private get db(): Kysely<ApiDatabase> {
    return this.api.db;
  }

  private async run<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      // A deadlock (or a Galera certification conflict) rolled the whole work back: run it again.
      return await withRetry(this.api, work);
    } catch (error) {
      if (error instanceof CellNotFound || error instanceof CellExists) throw error;
      throw dbFailure(this.api, doing, error);
    }
  }

  /** Every cell, cell0 included, in the order they were mapped. */
  list(): Promise<CellMapping[]> {
    return this.run('list cells', async () => {
      const rows = await this.db.selectFrom('cell_mappings').selectAll().orderBy('id').execute();
      return rows.map(fromRow);
    });
  }

  async getByUuid(uuid: string): Promise<CellMapping> {
    const row = await this.run('read cell mapping', () =>
      this.db.selectFrom('cell_mappings').selectAll().where('uuid', '=', uuid).executeTakeFirst(),
    );
    if (!row) throw new CellNotFound(uuid);
    return fromRow(row);
  }

  async findByUuid(uuid: string): Promise<CellMapping | undefined> {
    try {
      return await this.getByUuid(uuid);
    } catch (error) {
      if (error instanceof CellNotFound) return undefined;
      throw error;
    }
  }

  /**
   * nova-manage's uniqueness rule: no two cells share a database connection
   * or a transport URL. `except` is the cell being updated.
   */
  async assertUnique(
    fields: { transportUrl?: string | undefined; databaseConnection?: string | undefined },
    except?: string,
  ): Promise<void> {
    for (const cell of await this.list()) {
      if (cell.uuid === except) continue;
      if (
        (fields.databaseConnection !== undefined &&
          cell.databaseConnection === fields.databaseConnection) ||
        (fields.transportUrl !== undefined && cell.transportUrl === fields.transportUrl)
      ) {
        throw new CellExists(cell.uuid);
      }
    }
  }

  /** Maps a new cell. Throws CellExists when its uuid, database or transport URL is taken. */
  async create(fields: {
    uuid?: string;
    name: string | null;
    transportUrl: string;
    databaseConnection: string;
    disabled?: boolean;
  }): Promise<CellMapping> {
    const problem = transportUrlProblem(fields.transportUrl);
    if (problem) throw new InvalidInput(problem);
    const uuid = fields.uuid ?? randomUUID();
    const existing = await this.findByUuid(uuid);
    if (existing) throw new CellExists(existing.uuid);
    await this.assertUnique(fields);
    const now = new Date();
    await this.run('create cell mapping', async () => {
      try {
        await this.db
          .insertInto('cell_mappings')
          .values({
            uuid,
            name: fields.name,
            transport_url: fields.transportUrl,
            database_connection: fields.databaseConnection,
            disabled: fields.disabled ?? false,
            created_at: now,
            updated_at: null,
          })
          .execute();
      } catch (error) {
        // Two processes mapping the same cell (cell0's fixed uuid) at once.
        if (this.api.engine.isDuplicateKey(error)) throw new CellExists(uuid);
        throw error;
      }
    });
    return this.getByUuid(uuid);
  }

  async update(
    uuid: string,
    changes: {
      name?: string;
      transportUrl?: string;
      databaseConnection?: string;
      disabled?: boolean;
    },
  ): Promise<CellMapping> {
    await this.getByUuid(uuid);
    await this.run('update cell mapping', () =>
      this.db
        .updateTable('cell_mappings')
        .set({
          ...(changes.name === undefined ? {} : { name: changes.name }),
          ...(changes.transportUrl === undefined ? {} : { transport_url: changes.transportUrl }),
          ...(changes.databaseConnection === undefined
            ? {}
            : { database_connection: changes.databaseConnection }),
          ...(changes.disabled === undefined ? {} : { disabled: changes.disabled }),
          updated_at: new Date(),
        })
        .where('uuid', '=', uuid)
        .execute(),
    );
    return this.getByUuid(uuid);
  }

  /** Instance mappings that point at the cell (what delete_cell must account for). */
  countInstanceMappings(cellId: number): Promise<number> {
    return this.run('count instance mappings', async () => {
      const row = await this.db
        .selectFrom('instance_mappings')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('cell_id', '=', cellId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    });
  }

  /** Removes the cell and, in the same transaction, the instance mappings that point at it. */
  delete(cell: CellMapping): Promise<void> {
    return this.run('delete cell mapping', () =>
      this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('instance_mappings').where('cell_id', '=', cell.id).execute();
        await tx.deleteFrom('cell_mappings').where('id', '=', cell.id).execute();
      }),
    );
  }
}
