import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeConfig } from './cli.js';
import { freshDatabase, type FreshDatabase, type TestEngine } from './engines.js';

/** An API database, a cell database and a cell0 database on one engine, and a config file naming them. */
export interface TestDeployment {
  readonly dir: string;
  readonly config: string;
  readonly api: FreshDatabase;
  readonly cell: FreshDatabase;
  readonly cell0: FreshDatabase;
  /** `--config-file <config>`, to put before a manage command. */
  readonly args: string[];
  destroy(): Promise<void>;
}

export async function createDeployment(
  engine: TestEngine,
  extra: Record<string, Record<string, string>> = {},
  /** Where the API database lives, when not with the cells (a Galera cluster's node). */
  apiEngine: TestEngine = engine,
): Promise<TestDeployment> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cgt-deploy-'));
  const [api, cell, cell0] = await Promise.all([
    freshDatabase(apiEngine, 'api'),
    freshDatabase(engine, 'cell'),
    freshDatabase(engine, 'cell0'),
  ]);
  const config = writeConfig(dir, 'cellgroups.conf', {
    ...extra,
    DEFAULT: { state_path: path.join(dir, 'data'), ...extra.DEFAULT },
    api_database: { connection: api.url },
    database: { connection: cell.url },
  });
  return {
    dir,
    config,
    api,
    cell,
    cell0,
    args: ['--config-file', config],
    async destroy() {
      await Promise.all([api.drop(), cell.drop(), cell0.drop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
