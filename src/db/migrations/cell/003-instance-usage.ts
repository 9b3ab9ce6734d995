import type { SchemaMigration } from '../migration.js';

/** The columns this step adds, with Nova's types (Integer, Integer, Boolean). */
const COLUMNS = [
  ['vcpus', 'integer'],
  ['memory_mb', 'integer'],
  ['hidden', 'boolean'],
] as const;

/**
 * The columns of `instances` that Nova counts quota usage from and filters
 * instance queries by: `vcpus` and `memory_mb` (cores and RAM in use, with
 * `[quota] count_usage_from_placement = False`) and `hidden` (the copy left
 * behind in the source cell of a cross-cell resize, which no query shows or
 * counts).
 *
 * NOTE: it comes after the blocker, so a cell cellgroups made that still
 * holds legacy groups reads without these until its groups are moved and it
 * is synced again; what reads instances asks the cell which of them it has
 * (cells/instance-columns.ts). A cell Nova made has them all along.
 * MariaDB commits each ALTER by itself, so a step cut short between two of
 * them is finished by the next sync: only the missing columns are added.
 */
export const instanceUsage: SchemaMigration = {
  version: 3,
  name: 'instance-usage',
  async up(db) {
    const tables = await db.introspection.getTables();
    const have = new Set(
      tables.find((t) => t.name === 'instances')?.columns.map((c) => c.name) ?? [],
    );
    for (const [name, type] of COLUMNS) {
      if (have.has(name)) continue;
      await db.schema.alterTable('instances').addColumn(name, type).execute();
    }
  },
};
