import type { Config } from '../config/load.js';
import { dbFailure, withDatabase, type Database } from '../db/connection.js';
import {
  latestVersion,
  readSchemaVersion,
  syncSchema,
  type SyncResult,
} from '../db/migrations/migrator.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { ApiDatabase } from '../db/schema/api.js';
import { maskPassword, parseDatabaseUrl, withDatabaseName } from '../db/url.js';
import { CellExists, CellNotFound, UpgradeBlocked } from '../errors.js';
import {
  CELL0_TRANSPORT_URL,
  CELL0_UUID,
  CellMappings,
  isCell0,
  transportUrlProblem,
  type CellMapping,
} from './cell-mappings.js';

/**
 * The cell-registry workflows of nova-manage's cell_v2 commands, as library
 * functions: the CLI parses and prints, these decide.
 */

/** Name of the cell that simple_cell_setup (and a first `npm start`) maps. */
export const DEFAULT_CELL_NAME = 'cell1';

/** nova-manage's default for cell0: the local cell's URL with `_cell0` after the database name. */
export function defaultCell0Connection(config: Config): string {
  return withDatabaseName(config.cellDatabaseUrl, '_cell0', config.statePath);
}

/** Maps cell0; `created` is false when it was already mapped (nova-manage: "Cell0 is already setup"). */
export async function mapCell0(
  cells: CellMappings,
  config: Config,
  databaseConnection?: string,
): Promise<{ cell: CellMapping; created: boolean }> {
  try {
    const cell = await cells.create({
      uuid: CELL0_UUID,
      name: 'cell0',
      transportUrl: CELL0_TRANSPORT_URL,
      databaseConnection: databaseConnection ?? defaultCell0Connection(config),
    });
    return { cell, created: true };
  } catch (error) {
    if (error instanceof CellExists && error.otherCellUuid === CELL0_UUID) {
      return { cell: await cells.getByUuid(CELL0_UUID), created: false };
    }
    throw error;
  }
}

/** Brings one cell database's schema forward. */
export function syncCellDatabase(url: string, target?: number): Promise<SyncResult> {
  return withDatabase<CellDatabase, SyncResult>(url, (cell) => syncSchema(cell, 'cell', target));
}

/** Live (not soft-deleted) instances in a cell database. */
export function countLiveInstances(url: string): Promise<number> {
  return withDatabase<CellDatabase, number>(url, async (cell) => {
    try {
      const row = await cell.db
        .selectFrom('instances')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('deleted', '=', 0)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    } catch (cause) {
      throw dbFailure(cell, 'count instances', cause);
    }
  });
}

export type DeleteCellOutcome =
  | { readonly kind: 'deleted' }
  | { readonly kind: 'has-instances' }
  | { readonly kind: 'has-instance-mappings' }
  | { readonly kind: 'has-groups'; readonly count: number };

/**
 * Counts the live groups a cell database still holds. Handed in by the
 * caller (groups/ reads group rows; cells/ knows nothing of groups).
 */
export type CountCellGroups = (databaseUrl: string) => Promise<number>;

/**
 * delete_cell's rules: a cell whose database still has live instances is
 * never removed; one with only stale instance mappings is removed (with the
 * mappings) when forced. Nor is a cell removed while it holds groups not yet
 * moved to the API database: they would vanish with it. Forced, a cell
 * whose database cannot be read is removed anyway (it may be long gone).
 */
export async function deleteCell(
  cells: CellMappings,
  uuid: string,
  force: boolean,
  countGroups: CountCellGroups,
): Promise<DeleteCellOutcome> {
  const cell = await cells.getByUuid(uuid);
  const mappings = await cells.countInstanceMappings(cell.id);
  if (mappings > 0) {
    const live = cell.databaseConnection ? await countLiveInstances(cell.databaseConnection) : 0;
    if (live > 0) return { kind: 'has-instances' };
    if (!force) return { kind: 'has-instance-mappings' };
  }
  if (cell.databaseConnection) {
    let groups = 0;
    try {
      groups = await countGroups(cell.databaseConnection);
    } catch (error) {
      if (!force) throw error;
    }
    if (groups > 0) return { kind: 'has-groups', count: groups };
  }
  await cells.delete(cell);
  return { kind: 'deleted' };
}

export interface CellUpdate {
  readonly name?: string | undefined;
  readonly transportUrl?: string | undefined;
  readonly databaseConnection?: string | undefined;
  readonly disable?: boolean | undefined;
  readonly enable?: boolean | undefined;
}

export type UpdateCellOutcome =
  /** `unchanged`: the cell already was disabled (or enabled) as asked; the other fields were updated. */
  | { readonly kind: 'updated'; readonly cell: CellMapping; readonly unchanged?: 'disabled' }
  | { readonly kind: 'not-found'; readonly message: string }
  | { readonly kind: 'bad-transport-url'; readonly problem: string }
  | { readonly kind: 'url-in-use'; readonly message: string }
  | { readonly kind: 'disable-and-enable' }
  | { readonly kind: 'cell0-cannot-be-disabled' };

/**
 * update_cell's rules, in nova-manage's order: the cell must exist, a new
 * transport URL must have a scheme, a new database URL must parse (a
 * ConfigError otherwise), neither may be another cell's, and a cell is not
 * both disabled and enabled, nor is cell0 disabled or enabled.
 *
 * NOTE: unlike nova-manage, a field not given keeps the cell's value;
 * nova-manage replaced it with the local configuration's.
 */
export async function updateCell(
  cells: CellMappings,
  uuid: string,
  update: CellUpdate,
): Promise<UpdateCellOutcome> {
  let cell: CellMapping;
  try {
    cell = await cells.getByUuid(uuid);
  } catch (error) {
    if (!(error instanceof CellNotFound)) throw error;
    return { kind: 'not-found', message: error.message };
  }
  if (update.transportUrl !== undefined) {
    const problem = transportUrlProblem(update.transportUrl);
    if (problem) return { kind: 'bad-transport-url', problem };
  }
  if (update.databaseConnection !== undefined) parseDatabaseUrl(update.databaseConnection);
  try {
    await cells.assertUnique(
      { transportUrl: update.transportUrl, databaseConnection: update.databaseConnection },
      cell.uuid,
    );
  } catch (error) {
    if (!(error instanceof CellExists)) throw error;
    return { kind: 'url-in-use', message: error.message };
  }
  if (update.disable && update.enable) return { kind: 'disable-and-enable' };
  let disabled: boolean | undefined;
  let unchanged = false;
  if (update.disable || update.enable) {
    if (isCell0(cell)) return { kind: 'cell0-cannot-be-disabled' };
    // As nova-manage compares: only a second --disable is "already" so; --enable always writes.
    if (update.disable === cell.disabled) unchanged = true;
    else disabled = update.disable === true;
  }
  const updated = await cells.update(cell.uuid, {
    ...(update.name ? { name: update.name } : {}),
    ...(update.transportUrl ? { transportUrl: update.transportUrl } : {}),
    ...(update.databaseConnection ? { databaseConnection: update.databaseConnection } : {}),
    ...(disabled === undefined ? {} : { disabled }),
  });
  return unchanged
    ? { kind: 'updated', cell: updated, unchanged: 'disabled' }
    : { kind: 'updated', cell: updated };
}

export interface SimpleSetupResult {
  readonly cell0: { cell: CellMapping; created: boolean; schema: SyncResult };
  readonly cell: { cell: CellMapping; created: boolean; schema: SyncResult };
}

/**
 * What a first install runs: map cell0 and sync its schema, map the local
 * cell (`[database] connection`) as cell1 unless a cell already uses that
 * database, and sync its schema. Running it again changes nothing.
 *
 * NOTE: Nova maps the cell only once compute hosts report, and answers 1
 * when none do; cellgroups has no compute hosts, so the local cell is mapped
 * from the configuration alone.
 */
export async function simpleCellSetup(
  cells: CellMappings,
  config: Config,
  transportUrl: string,
  syncCell: (url: string) => Promise<SyncResult> = syncCellDatabase,
): Promise<SimpleSetupResult> {
  const cell0 = await mapCell0(cells, config);
  const cell0Schema = await syncCell(
    cell0.cell.databaseConnection ?? defaultCell0Connection(config),
  );

  const existing = (await cells.list()).find(
    (c) => c.databaseConnection === config.cellDatabaseUrl,
  );
  const cell =
    existing ??
    (await cells.create({
      name: DEFAULT_CELL_NAME,
      transportUrl,
      databaseConnection: config.cellDatabaseUrl,
    }));
  const cellSchema = await syncCell(config.cellDatabaseUrl);
  return {
    cell0: { ...cell0, schema: cell0Schema },
    cell: { cell, created: existing === undefined, schema: cellSchema },
  };
}

/** The local cell's transport URL when none is configured: cellgroups sends no RPC. */
export const LOCAL_TRANSPORT_URL = 'none:///cell1';

/**
 * Brings a cell schema forward as far as it may go. A start must serve a
 * deployment whose cell still holds legacy groups (the API serves them, and
 * the online migration moves them while it runs), so the blocker migration
 * refusing leaves that cell where it is instead of stopping the start.
 */
async function syncCellUnlessBlocked(url: string): Promise<SyncResult> {
  try {
    return await syncCellDatabase(url);
  } catch (error) {
    if (!(error instanceof UpgradeBlocked)) throw error;
    const version = await withDatabase<CellDatabase, number>(url, (cell) =>
      readSchemaVersion(cell, 'cell'),
    );
    return { from: version, to: version, applied: [] };
  }
}

/**
 * A working local deployment from nothing (what `npm start` runs): the API
 * schema (and, on SQLite, the data directory), cell0 and the local cell with their
 * schemas. Returns lines saying where everything is. Safe to re-run, also on
 * a deployment whose cells still hold groups to move.
 */
export async function firstRun(config: Config): Promise<string[]> {
  // One connection to the API database for both steps.
  const { api, setup } = await withDatabase(
    config.apiDatabaseUrl,
    async (db: Database<ApiDatabase>) => {
      const synced = await syncSchema(db, 'api');
      const cells = await simpleCellSetup(
        new CellMappings(db),
        config,
        config.values.DEFAULT.transport_url ?? LOCAL_TRANSPORT_URL,
        syncCellUnlessBlocked,
      );
      return { api: synced, setup: cells };
    },
  );
  const line = (what: string, url: string, version: number) =>
    `  ${what.padEnd(14)} ${maskPassword(url)} (schema version ${version})`;
  // A cell the blocker migration held back: say what moves it on.
  const cellLine = (what: string, url: string, version: number) =>
    version < latestVersion('cell')
      ? `${line(what, url, version)}; groups to move: cellgroups-manage db online_data_migrations`
      : line(what, url, version);
  return [
    `cellgroups data directory: ${config.statePath}`,
    line('API database', config.apiDatabaseUrl, api.to),
    cellLine('cell0', setup.cell0.cell.databaseConnection ?? '', setup.cell0.schema.to),
    cellLine(
      setup.cell.cell.name ?? setup.cell.cell.uuid,
      config.cellDatabaseUrl,
      setup.cell.schema.to,
    ),
  ];
}
