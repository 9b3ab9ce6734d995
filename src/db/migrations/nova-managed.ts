import { sql } from 'kysely';
import { SchemaError } from '../../errors.js';
import type { Database } from '../connection.js';
import { dbFailure } from '../connection.js';

/**
 * Databases whose schema Nova's own tooling manages: `nova-manage api_db
 * sync` and `db sync` record an alembic revision (Train and later: the
 * `alembic_version` table) or, before the switch, a sqlalchemy-migrate
 * version (`migrate_version`). cellgroups reads such a database at the point
 * of its own scale that the tables match, and leaves Nova's schema to Nova.
 */
export interface NovaMarker {
  readonly tool: 'alembic' | 'sqlalchemy-migrate';
  readonly revision: string;
}

/** The tables Nova's API database must have for cellgroups to use it (version 1 of its API scale). */
const API_TABLES = [
  'cell_mappings',
  'instance_mappings',
  'instance_groups',
  'instance_group_policy',
  'instance_group_member',
  'quotas',
] as const;

/** The table cellgroups adds to Nova's API database: Nova's tools neither read nor mind it. */
export const OWN_API_TABLES: Readonly<Record<number, string>> = { 2: 'quota_fences' };

/** Where a Nova cell database without the legacy group tables stands: the latest cell version. */
const NOVA_CELL_WITHOUT_GROUPS = 3;

/** The legacy group tables, which Nova's cell databases still carry (Zed included). */
const LEGACY_GROUP_TABLE = 'instance_groups';

/** Reads Nova's revision marker, or undefined when the database is not managed by Nova. */
export async function readNovaMarker<DB>(
  database: Database<DB>,
  tables: ReadonlySet<string>,
): Promise<NovaMarker | undefined> {
  const query = tables.has('alembic_version')
    ? {
        tool: 'alembic' as const,
        text: sql<{ v: string }>`select version_num as v from alembic_version`,
      }
    : tables.has('migrate_version')
      ? {
          tool: 'sqlalchemy-migrate' as const,
          text: sql<{ v: string | number }>`select version as v from migrate_version`,
        }
      : undefined;
  if (!query) return undefined;
  try {
    const { rows } = await query.text.execute(database.db);
    return { tool: query.tool, revision: rows.map((r) => String(r.v)).join(',') || 'none' };
  } catch (cause) {
    throw dbFailure(database, `read Nova's schema revision`, cause);
  }
}

/**
 * Where a Nova-managed database stands on cellgroups' scale. An API database
 * is at 1 with Nova's group, quota and mapping tables, and at 2 once
 * cellgroups' own quota fence table is there. A cell database still holding
 * the legacy group tables is at 1 (groups may remain); one without them can
 * hold no group (version 2 for a cell), and has the instance columns of
 * version 3 (Nova's instances have had them since Stein): it is at 3.
 */
export function novaSchemaVersion(
  kind: 'api' | 'cell',
  tables: ReadonlySet<string>,
  marker: NovaMarker,
  displayUrl: string,
): number {
  const found = `${displayUrl} is managed by Nova (${describeMarker(marker)})`;
  if (kind === 'api') {
    const missing = API_TABLES.filter((t) => !tables.has(t));
    if (missing.length > 0) {
      throw new SchemaError(
        tables.has('instances') && !tables.has('cell_mappings')
          ? `${found} but is a cell database, not an API database: check [api_database] connection.`
          : `${found} but lacks ${missing.join(', ')}: run "nova-manage api_db sync" first.`,
      );
    }
    return tables.has(OWN_API_TABLES[2] ?? '') ? 2 : 1;
  }
  if (tables.has('cell_mappings') && !tables.has('instances')) {
    throw new SchemaError(
      `${found} but is an API database, not a cell database: check [database] connection.`,
    );
  }
  return tables.has(LEGACY_GROUP_TABLE) ? 1 : NOVA_CELL_WITHOUT_GROUPS;
}

export function describeMarker(marker: NovaMarker): string {
  return `${marker.tool} revision ${marker.revision}`;
}
