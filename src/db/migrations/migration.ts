import type { CreateTableBuilder, Kysely } from 'kysely';
import type { Engine } from '../dialects/index.js';

/**
 * One forward-only schema step. Migrations are frozen in time, so they build
 * SQL against `Kysely<any>` rather than today's table types (which describe
 * the latest schema, not the one this step starts from).
 */
export interface SchemaMigration {
  readonly version: number;
  /** kebab-case, shown in `api_db version --verbose` style listings and logs. */
  readonly name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  up(db: Kysely<any>, engine: Engine): Promise<void>;
}

/**
 * `CREATE TABLE name (id …, created_at, updated_at [, deleted_at, deleted])`,
 * ready for the table's own columns. Every Nova table starts like this.
 */
export function novaTable(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see SchemaMigration
  db: Kysely<any>,
  engine: Engine,
  name: string,
  options: { softDelete: boolean },
): CreateTableBuilder<string, string> {
  let table = engine
    .addIdColumn(db.schema.createTable(name))
    .addColumn('created_at', engine.dateTimeType)
    .addColumn('updated_at', engine.dateTimeType);
  if (options.softDelete) {
    table = table
      .addColumn('deleted_at', engine.dateTimeType)
      .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0));
  }
  return engine.finishTable(table);
}
