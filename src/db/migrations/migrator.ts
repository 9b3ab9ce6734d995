import { Migrator, type Kysely, type Migration } from 'kysely';
import { SchemaError, UpgradeBlocked, describeError } from '../../errors.js';
import type { Database } from '../connection.js';
import { dbFailure } from '../connection.js';
import { initial as apiInitial } from './api/001-initial.js';
import { quotaFences } from './api/002-quota-fences.js';
import { initial as cellInitial } from './cell/001-initial.js';
import { instanceGroupsMoved } from './cell/002-instance-groups-moved.js';
import { instanceUsage } from './cell/003-instance-usage.js';
import type { SchemaMigration } from './migration.js';
import {
  OWN_API_TABLES,
  novaSchemaVersion,
  readNovaMarker,
  type NovaMarker,
} from './nova-managed.js';

/** The two kinds of database this system owns. */
export type SchemaKind = 'api' | 'cell';

const MIGRATIONS: Readonly<Record<SchemaKind, readonly SchemaMigration[]>> = {
  api: [apiInitial, quotaFences],
  cell: [cellInitial, instanceGroupsMoved, instanceUsage],
};

/**
 * Each kind records its versions in its own table, so that syncing the cell
 * schema into an API database (they share table names such as
 * `instance_groups`) is caught instead of half-applied.
 */
const VERSION_TABLE: Readonly<Record<SchemaKind, string>> = {
  api: 'cellgroups_api_migration',
  cell: 'cellgroups_cell_migration',
};

const LABEL: Readonly<Record<SchemaKind, string>> = { api: 'API', cell: 'cell' };

export function latestVersion(kind: SchemaKind): number {
  return MIGRATIONS[kind].at(-1)?.version ?? 0;
}

export interface SyncResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly { version: number; name: string }[];
  /** Set when Nova manages the schema: only cellgroups' own tables were added, if any. */
  readonly nova?: NovaMarker;
}

/** A database's place on cellgroups' scale, and who manages its schema. */
export interface SchemaState {
  readonly version: number;
  readonly nova?: NovaMarker;
}

const migrationKey = (m: SchemaMigration) => `${String(m.version).padStart(3, '0')}_${m.name}`;
const versionOfKey = (key: string) => Number.parseInt(key.slice(0, key.indexOf('_')), 10);

function migrator<DB>(database: Database<DB>, kind: SchemaKind): Migrator {
  const migrations: Record<string, Migration> = {};
  for (const m of MIGRATIONS[kind]) {
    migrations[migrationKey(m)] = { up: (db) => m.up(db, database.engine) };
  }
  return new Migrator({
    db: database.db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    migrationTableName: VERSION_TABLE[kind],
    migrationLockTableName: `${VERSION_TABLE[kind]}_lock`,
  });
}

export async function tableNames<DB>(database: Database<DB>): Promise<Set<string>> {
  try {
    const tables = await database.db.introspection.getTables();
    return new Set(tables.map((t) => t.name));
  } catch (cause) {
    throw dbFailure(database, 'read the schema', cause);
  }
}

/** The columns `table` has in `database` (none when there is no such table). */
export async function columnNames<DB>(database: Database<DB>, table: string): Promise<Set<string>> {
  try {
    const tables = await database.db.introspection.getTables();
    return new Set(tables.find((t) => t.name === table)?.columns.map((c) => c.name) ?? []);
  } catch (cause) {
    throw dbFailure(database, `read the columns of ${table}`, cause);
  }
}

/**
 * The schema version recorded in the database (0 when it was never synced),
 * or, for a database Nova manages, the point its tables match (see
 * nova-managed.ts). Refuses a database of the other kind and one newer than
 * this program.
 */
export async function readSchemaState<DB>(
  database: Database<DB>,
  kind: SchemaKind,
): Promise<SchemaState> {
  const tables = await tableNames(database);
  const other: SchemaKind = kind === 'api' ? 'cell' : 'api';
  if (tables.has(VERSION_TABLE[other])) {
    throw new SchemaError(
      `${database.displayUrl} is ${other === 'api' ? 'an API' : 'a cell'} database, not ${kind === 'api' ? 'an API' : 'a cell'} database: ` +
        `check [${kind === 'api' ? 'api_database' : 'database'}] connection.`,
    );
  }
  if (!tables.has(VERSION_TABLE[kind])) {
    const nova = await readNovaMarker(database, tables);
    if (nova) return { version: novaSchemaVersion(kind, tables, nova, database.displayUrl), nova };
    return { version: 0 };
  }
  let rows: { name: string }[];
  try {
    // The version tables belong to Kysely's migrator, not to the typed schema.
    const db = database.db as unknown as Kysely<Record<string, { name: string }>>;
    rows = await db.selectFrom(VERSION_TABLE[kind]).select('name').execute();
  } catch (cause) {
    throw dbFailure(database, 'read the schema version', cause);
  }
  const version = Math.max(0, ...rows.map((r) => versionOfKey(r.name)));
  if (version > latestVersion(kind)) {
    throw new SchemaError(
      `The ${LABEL[kind]} database ${database.displayUrl} is at schema version ${version}, ` +
        `newer than this cellgroups knows (${latestVersion(kind)}): upgrade cellgroups.`,
    );
  }
  return { version };
}

export async function readSchemaVersion<DB>(
  database: Database<DB>,
  kind: SchemaKind,
): Promise<number> {
  return (await readSchemaState(database, kind)).version;
}

/**
 * On a database Nova manages, cellgroups adds only tables of its own that
 * Nova's tools never look at (the quota fence in the API database) and
 * records no version table: the tables themselves say where it stands. A
 * cell database is never changed: Nova's archive_deleted_rows reflects every
 * table of a cell database and would trip on one it does not know.
 */
async function syncNovaManaged<DB>(
  database: Database<DB>,
  kind: SchemaKind,
  state: SchemaState & { nova: NovaMarker },
  target: number,
): Promise<SyncResult> {
  const { version: from, nova } = state;
  if (kind === 'cell' || target <= from) return { from, to: from, applied: [], nova };
  const applied: { version: number; name: string }[] = [];
  for (const step of MIGRATIONS.api.filter((m) => m.version > from && m.version <= target)) {
    if (OWN_API_TABLES[step.version] === undefined) {
      throw new SchemaError(
        `${database.displayUrl} is managed by Nova: cellgroups will not change its tables (API schema step ${migrationKey(step)}).`,
      );
    }
    try {
      await step.up(database.db, database.engine);
    } catch (cause) {
      throw new SchemaError(
        `Could not sync the ${LABEL[kind]} database ${database.displayUrl} (migration ${migrationKey(step)}): ${describeError(cause)}`,
        { cause },
      );
    }
    applied.push({ version: step.version, name: step.name });
  }
  return { from, to: target, applied, nova };
}

/**
 * Brings the schema forward to `target` (default: the latest). Forward only;
 * re-running at the target does nothing. Concurrent syncs are serialized by
 * the engine's migration lock, so two processes racing do no harm.
 */
export async function syncSchema<DB>(
  database: Database<DB>,
  kind: SchemaKind,
  target: number = latestVersion(kind),
): Promise<SyncResult> {
  const latest = latestVersion(kind);
  if (!Number.isInteger(target) || target < 0 || target > latest) {
    throw new SchemaError(
      `Unknown ${LABEL[kind]} schema version ${target}: versions go from 1 to ${latest}.`,
    );
  }
  database.engine.ensureStorage(database.target);
  const state = await readSchemaState(database, kind);
  const from = state.version;
  if (target < from) {
    throw new SchemaError(
      `Database schema downgrade is not supported: the ${LABEL[kind]} database is at version ${from}, ` +
        `${target} was asked for.`,
    );
  }
  if (state.nova) return syncNovaManaged(database, kind, { ...state, nova: state.nova }, target);
  if (target === from) return { from, to: from, applied: [] };

  const step = MIGRATIONS[kind].find((m) => m.version === target);
  if (!step) throw new SchemaError(`No ${LABEL[kind]} schema version ${target}.`);
  const { error, results = [] } = await migrator(database, kind).migrateTo(migrationKey(step));
  const applied = results
    .filter((r) => r.status === 'Success' && r.direction === 'Up')
    .map((r) => ({ version: versionOfKey(r.migrationName), name: r.migrationName.slice(4) }));
  if (error instanceof UpgradeBlocked) {
    throw new UpgradeBlocked(
      `Cannot sync the ${LABEL[kind]} database ${database.displayUrl} to version ${target}: ${error.message}`,
    );
  }
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    throw new SchemaError(
      `Could not sync the ${LABEL[kind]} database ${database.displayUrl}` +
        `${failed ? ` (migration ${failed})` : ''}: ${describeError(error)}`,
      { cause: error },
    );
  }
  // Another process may have applied some steps first: the lock makes that safe.
  return { from, to: target, applied };
}
