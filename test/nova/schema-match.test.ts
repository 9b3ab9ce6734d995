import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runManage, writeConfig } from '../support/cli.js';
import { describeNova, nova, novaExec, novaSql } from '../support/nova/nova.js';

/** The tables cellgroups shares with Nova, per kind of database. */
const SHARED = {
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
  cell: ['instance_groups', 'instance_group_policy', 'instance_group_member'],
} as const;

/**
 * Where cellgroups' schema deliberately differs from Nova's, and why. Any
 * other difference fails the test. Indexes are compared by what they are
 * (unique or not, and their columns), not by name: MySQL names the index it
 * makes for a foreign key after the column, where cellgroups names its own.
 */
const DIFFERENCES_KEPT: Readonly<Record<string, string>> = {
  // Lists page through a project's groups in creation order.
  'api instance_groups index(project_id, created_at, id)': 'paging index',
  // A member appears at most once per group, also under concurrent adds; MySQL then indexes the
  // foreign key with it, so Nova's plain group_id index has no twin.
  'api instance_group_member unique(group_id, instance_uuid)': 'one member row per instance',
  'api instance_group_member index(group_id)': 'covered by the unique key above',
  'api quotas index(project_id)': "a project's limits read by project; harmless beside Nova's",
  // Nova's defaults are set in Python (SQLAlchemy default=), so a row it writes always carries a
  // value; cellgroups puts the same value in the server's default, which Nova's writes override.
  'api cell_mappings column disabled': 'server default 0 (Nova: Python default False)',
  'api instance_mappings column queued_for_delete': 'server default 0 (Nova: Python default)',
  // Nova writes deleted = 0 or the row's id, never NULL: NOT NULL keeps "deleted = 0" exact.
  'cell instance_groups column deleted': 'NOT NULL DEFAULT 0',
  'cell instance_group_policy column deleted': 'NOT NULL DEFAULT 0',
  'cell instance_group_member column deleted': 'NOT NULL DEFAULT 0',
};

interface Column extends RowDataPacket {
  table_name: string;
  column_name: string;
  column_type: string;
  is_nullable: string;
  column_default: string | null;
}

interface IndexPart extends RowDataPacket {
  table_name: string;
  index_name: string;
  non_unique: number | string;
  column_name: string;
}

interface ForeignKey extends RowDataPacket {
  table_name: string;
  column_name: string;
  referenced_table_name: string;
  referenced_column_name: string;
}

/** Every column, index and foreign key of `tables` in `schema`, one line each, comparable. */
async function shape(schema: string, tables: readonly string[]): Promise<Map<string, string>> {
  const lines = new Map<string, string>();
  const columns = await novaSql<Column>(
    'nova_api',
    `SELECT table_name, column_name, column_type, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = ? AND table_name IN (?)`,
    [schema, tables],
  );
  for (const c of columns) {
    lines.set(
      `${c.table_name} column ${c.column_name}`,
      `${c.column_type} ${c.is_nullable === 'YES' ? 'null' : 'not null'} default ${c.column_default ?? 'none'}`,
    );
  }
  const parts = await novaSql<IndexPart>(
    'nova_api',
    `SELECT table_name, index_name, non_unique, column_name
       FROM information_schema.statistics WHERE table_schema = ? AND table_name IN (?)
      ORDER BY table_name, index_name, seq_in_index`,
    [schema, tables],
  );
  const indexes = new Map<string, { unique: boolean; columns: string[] }>();
  for (const p of parts) {
    const key = `${p.table_name} index ${p.index_name}`;
    const index = indexes.get(key) ?? { unique: Number(p.non_unique) === 0, columns: [] };
    index.columns.push(p.column_name);
    indexes.set(key, index);
  }
  for (const [key, index] of indexes) {
    const table = key.slice(0, key.indexOf(' '));
    lines.set(
      `${table} ${index.unique ? 'unique' : 'index'}(${index.columns.join(', ')})`,
      'present',
    );
  }
  const keys = await novaSql<ForeignKey>(
    'nova_api',
    `SELECT table_name, column_name, referenced_table_name, referenced_column_name
       FROM information_schema.key_column_usage
      WHERE table_schema = ? AND table_name IN (?) AND referenced_table_name IS NOT NULL`,
    [schema, tables],
  );
  for (const k of keys) {
    lines.set(
      `${k.table_name} foreign key ${k.column_name}`,
      `${k.referenced_table_name}.${k.referenced_column_name}`,
    );
  }
  return lines;
}

/** The lines that differ, as "key: nova → cellgroups". */
function differences(
  kind: 'api' | 'cell',
  novaShape: Map<string, string>,
  ours: Map<string, string>,
): string[] {
  const out: string[] = [];
  for (const key of new Set([...novaShape.keys(), ...ours.keys()])) {
    const theirs = novaShape.get(key);
    const mine = ours.get(key);
    if (theirs === mine) continue;
    if (DIFFERENCES_KEPT[`${kind} ${key}`] !== undefined) continue;
    out.push(`${kind} ${key}: ${theirs ?? '(none)'} → ${mine ?? '(none)'}`);
  }
  return out.sort();
}

/**
 * The tables cellgroups makes that Nova also has carry Nova's own types,
 * defaults, indexes and foreign keys, compared in MariaDB's catalog with the
 * ones `nova-manage` made on the same server.
 */
describeNova("cellgroups' schemas against the tables Nova made", () => {
  const suffix = randomBytes(4).toString('hex');
  const apiName = `cg_api_${suffix}`;
  const cellName = `cg_cell_${suffix}`;
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cgt-nova-schema-'));
    for (const name of [apiName, cellName]) {
      await novaExec('nova_api', `CREATE DATABASE ${name} CHARACTER SET utf8`);
    }
    const url = (name: string) =>
      `mysql+pymysql://root@127.0.0.1:${nova().dbPort}/${name}?charset=utf8`;
    const config = writeConfig(dir, 'cellgroups.conf', {
      api_database: { connection: url(apiName) },
      database: { connection: url(cellName) },
    });
    for (const args of [
      ['api_db', 'sync'],
      ['db', 'sync', '1', '--local_cell'],
    ]) {
      const synced = await runManage(['--config-file', config, ...args]);
      expect(synced.code, synced.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    for (const name of [apiName, cellName]) {
      await novaExec('nova_api', `DROP DATABASE IF EXISTS ${name}`);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the API tables it shares with Nova as Nova makes them', async () => {
    const [theirs, ours] = await Promise.all([
      shape('nova_api', SHARED.api),
      shape(apiName, SHARED.api),
    ]);
    expect(differences('api', theirs, ours)).toEqual([]);
  });

  it('makes the legacy group tables of a cell as Nova makes them', async () => {
    const [theirs, ours] = await Promise.all([
      shape('nova', SHARED.cell),
      shape(cellName, SHARED.cell),
    ]);
    expect(differences('cell', theirs, ours)).toEqual([]);
  });
});
