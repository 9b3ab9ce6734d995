import { Migrator, type Kysely, type Migration } from 'kysely';
import { SchemaError, UpgradeBlocked, describeError } from '../../errors.js';
import type { Database } from '../connection.js';
import { dbFailure } from '../connection.js';
import { initial as apiInitial } from './api/001-initial.js';
import { quotaFences } from './api/002-quota-fences.js';
import { initial as cellInitial } from './cell/001-initial.js';
import { LEGACY_GROUPS_VERSION, instanceGroupsMoved } from './cell/002-instance-groups-moved.js';
import type { SchemaMigration } from './migration.js';

/** The two kinds of database this system owns. */
export type SchemaKind = 'api' | 'cell';

const MIGRATIONS: Readonly<Record<SchemaKind, readonly SchemaMigration[]>> = {
  api: [apiInitial, quotaFences],
  cell: [cellInitial, instanceGroupsMoved],
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
  /** Set when Nova manages the database: nothing was applied. */
  readonly nova?: NovaSchema;
}

/**
 * A database whose schema Nova manages: `nova-manage` records its version in
 * alembic's `alembic_version` (Xena onwards) or sqlalchemy-migrate's
 * `migrate_version` (before). Its tables are read as the cellgroups schema
 * version that has them; cellgroups never does DDL on it.
 */
export interface NovaSchema {
  readonly marker: 'alembic_version' | 'migrate_version';
  /** The alembic revision, or sqlalchemy-migrate's version number. */
  readonly revision: string;
  /** The cellgroups schema version whose tables it has; 0: it lacks some. */
  readonly version: number;
  /** What was found, for people. */
  readonly description: string;
}

// The tables cellgroups reads and writes in each kind of database, all of them Nova's own.
const NOVA_TABLES: Readonly<Record<SchemaKind, readonly string[]>> = {
  api: [
    'cell_mappings',
    'instance_mappings',
    'instance_groups',
    'instance_group_policy',
    'instance_group_member',
    'quotas',
    'project_user_quotas',
    'quota_classes',
  ],
  // Every Nova cell schema to date (Zed included) still has the legacy group tables; cellgroups
  // reads them in a cell at the legacy version, so a cell without them is not one it can read.
  cell: ['instances', 'instance_groups', 'instance_group_policy', 'instance_group_member'],
};

async function novaSchemaOf<DB>(
  database: Database<DB>,
  kind: SchemaKind,
  tables: ReadonlySet<string>,
): Promise<NovaSchema | undefined> {
  const marker = tables.has('alembic_version')
    ? 'alembic_version'
    : tables.has('migrate_version')
      ? 'migrate_version'
      : undefined;
  if (marker === undefined || tables.has(VERSION_TABLE[kind])) return undefined;
  // Nova's API and cell databases share the marker: tell them apart by what only one has.
  const otherKind =
    kind === 'api'
      ? !tables.has('cell_mappings') && tables.has('instances')
      : tables.has('cell_mappings') && !tables.has('instances');
  if (otherKind) {
    throw new SchemaError(
      `${database.displayUrl} is Nova's ${kind === 'api' ? 'cell' : 'API'} database, not ${kind === 'api' ? 'an API' : 'a cell'} database: ` +
        `check [${kind === 'api' ? 'api_database' : 'database'}] connection.`,
    );
  }
  let revision: string;
  try {
    const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const rows =
      marker === 'alembic_version'
        ? await db.selectFrom('alembic_version').select('version_num as v').execute()
        : await db.selectFrom('migrate_version').select('version as v').execute();
    revision = rows.map((r) => String(r.v)).join(',') || '(none)';
  } catch (cause) {
    throw dbFailure(database, 'read the schema version', cause);
  }
  const missing = NOVA_TABLES[kind].filter((t) => !tables.has(t));
  const version = missing.length > 0 ? 0 : kind === 'api' ? 1 : LEGACY_GROUPS_VERSION;
  const found = `Nova manages this ${LABEL[kind]} database (${marker} ${revision})`;
  const description =
    missing.length > 0
      ? `${found}, but it lacks ${missing.join(', ')}: run "nova-manage ${kind === 'api' ? 'api_db' : 'db'} sync" first.`
      : kind === 'api'
        ? `${found}: read as cellgroups API schema version ${version}; cellgroups changes no table of it.`
        : `${found}: read as cellgroups cell schema version ${version}, the legacy schema ` +
          '(its instance group tables are still there); cellgroups changes no table of it.';
  return { marker, revision, version, description };
}

/** What Nova's marker says of the database, or undefined when Nova does not manage it. */
export async function findNovaSchema<DB>(
  database: Database<DB>,
  kind: SchemaKind,
): Promise<NovaSchema | undefined> {
  return novaSchemaOf(database, kind, await tableNames(database));
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

async function tableNames<DB>(database: Database<DB>): Promise<Set<string>> {
  try {
    const tables = await database.db.introspection.getTables();
    return new Set(tables.map((t) => t.name));
  } catch (cause) {
    throw dbFailure(database, 'read the schema', cause);
  }
}

/**
 * The schema version recorded in the database: 0 when it was never synced.
 * Refuses a database of the other kind and one newer than this program.
 */
export async function readSchemaVersion<DB>(
  database: Database<DB>,
  kind: SchemaKind,
): Promise<number> {
  const tables = await tableNames(database);
  const other: SchemaKind = kind === 'api' ? 'cell' : 'api';
  if (tables.has(VERSION_TABLE[other])) {
    throw new SchemaError(
      `${database.displayUrl} is ${other === 'api' ? 'an API' : 'a cell'} database, not ${kind === 'api' ? 'an API' : 'a cell'} database: ` +
        `check [${kind === 'api' ? 'api_database' : 'database'}] connection.`,
    );
  }
  if (!tables.has(VERSION_TABLE[kind])) {
    return (await novaSchemaOf(database, kind, tables))?.version ?? 0;
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
  return version;
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
  // Nova's database is Nova's to migrate (nova-manage): found, reported, left alone.
  const nova = await findNovaSchema(database, kind);
  if (nova !== undefined) return { from: nova.version, to: nova.version, applied: [], nova };
  const from = await readSchemaVersion(database, kind);
  if (target < from) {
    throw new SchemaError(
      `Database schema downgrade is not supported: the ${LABEL[kind]} database is at version ${from}, ` +
        `${target} was asked for.`,
    );
  }
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
