import { sql } from 'kysely';
import type { Database } from '../../src/db/connection.js';

/**
 * What a table looks like in the engine's own catalog, reduced to what the
 * schema promises: columns (with a type family and nullability), indexes
 * (unique or not, with their columns) and foreign keys. Catalog queries are
 * engine-specific by nature; they live here, in the tests, only.
 */
export interface TableShape {
  columns: Record<string, { type: string; nullable: boolean }>;
  /** name → "unique(a,b)" or "index(a)"; SQLite names unique constraints by their columns. */
  indexes: Record<string, string>;
  /** "column -> table.column" */
  foreignKeys: string[];
}

function family(type: string): string {
  const t = type.toLowerCase();
  if (/^(int|integer|int4|serial)/.test(t)) return 'integer';
  if (/^(varchar|character varying)/.test(t)) return 'varchar';
  if (t === 'text') return 'text';
  if (/^(datetime|timestamp)/.test(t)) return 'datetime';
  if (/^(bool|boolean|tinyint)/.test(t)) return 'boolean';
  return t;
}

type Rows = Record<string, unknown>[];

async function rows<DB>(database: Database<DB>, query: ReturnType<typeof sql>): Promise<Rows> {
  return (await query.execute(database.db)).rows as Rows;
}

export async function inspectTable<DB>(database: Database<DB>, table: string): Promise<TableShape> {
  const tables = await database.db.introspection.getTables();
  const meta = tables.find((t) => t.name === table);
  if (!meta) throw new Error(`no table ${table}`);
  const columns: TableShape['columns'] = {};
  for (const c of meta.columns)
    columns[c.name] = { type: family(c.dataType), nullable: c.isNullable };

  const indexes: Record<string, string> = {};
  const foreignKeys: string[] = [];
  const add = (name: string, unique: boolean, cols: string[]) => {
    indexes[name] = `${unique ? 'unique' : 'index'}(${cols.join(',')})`;
  };

  switch (database.engine.name) {
    case 'postgresql': {
      for (const r of await rows(
        database,
        sql`select i.relname as name, ix.indisunique as uniq, array_to_string(array(
              select a.attname from unnest(ix.indkey) with ordinality k(attnum, n)
              join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.attnum order by k.n), ',') as cols
            from pg_index ix join pg_class i on i.oid = ix.indexrelid join pg_class t on t.oid = ix.indrelid
            where t.relname = ${table} and not ix.indisprimary`,
      )) {
        add(String(r.name), Boolean(r.uniq), String(r.cols).split(','));
      }
      for (const r of await rows(
        database,
        sql`select kcu.column_name as col, ccu.table_name as ref_table, ccu.column_name as ref_col
            from information_schema.table_constraints tc
            join information_schema.key_column_usage kcu on tc.constraint_name = kcu.constraint_name
            join information_schema.constraint_column_usage ccu on tc.constraint_name = ccu.constraint_name
            where tc.table_name = ${table} and tc.constraint_type = 'FOREIGN KEY'`,
      )) {
        foreignKeys.push(`${String(r.col)} -> ${String(r.ref_table)}.${String(r.ref_col)}`);
      }
      break;
    }
    case 'mysql': {
      const byName = new Map<string, { unique: boolean; cols: string[] }>();
      for (const r of await rows(
        database,
        sql`select index_name as name, non_unique as non_unique, column_name as col from information_schema.statistics
            where table_schema = database() and table_name = ${table} and index_name <> 'PRIMARY'
            order by index_name, seq_in_index`,
      )) {
        const entry = byName.get(String(r.name)) ?? {
          unique: Number(r.non_unique) === 0,
          cols: [],
        };
        entry.cols.push(String(r.col));
        byName.set(String(r.name), entry);
      }
      for (const [name, { unique, cols }] of byName) add(name, unique, cols);
      for (const r of await rows(
        database,
        sql`select column_name as col, referenced_table_name as ref_table, referenced_column_name as ref_col
            from information_schema.key_column_usage
            where table_schema = database() and table_name = ${table} and referenced_table_name is not null`,
      )) {
        foreignKeys.push(`${String(r.col)} -> ${String(r.ref_table)}.${String(r.ref_col)}`);
      }
      break;
    }
    case 'sqlite': {
      const create = String(
        (
          await rows(
            database,
            sql`select sql from sqlite_master where type = 'table' and name = ${table}`,
          )
        )[0]?.sql,
      );
      for (const r of await rows(
        database,
        sql`select name, "unique", origin from pragma_index_list(${table})`,
      )) {
        const cols = (
          await rows(
            database,
            sql`select name from pragma_index_info(${String(r.name)}) order by seqno`,
          )
        ).map((c) => String(c.name));
        if (r.origin === 'pk') continue;
        if (r.origin === 'u') {
          // SQLite keeps a named UNIQUE constraint as an autoindex: recover its name from the DDL.
          const named = new RegExp(
            `constraint\\s+"?(\\w+)"?\\s+unique\\s*\\(${cols.map((c) => `"?${c}"?`).join('\\s*,\\s*')}\\)`,
            'i',
          ).exec(create);
          add(named?.[1] ?? String(r.name), true, cols);
        } else {
          add(String(r.name), Number(r.unique) === 1, cols);
        }
      }
      for (const r of await rows(
        database,
        sql`select "from" as col, "table" as ref_table, "to" as ref_col from pragma_foreign_key_list(${table})`,
      )) {
        foreignKeys.push(`${String(r.col)} -> ${String(r.ref_table)}.${String(r.ref_col)}`);
      }
      break;
    }
  }
  return { columns, indexes, foreignKeys: foreignKeys.sort() };
}
