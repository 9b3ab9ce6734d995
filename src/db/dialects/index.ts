import type { EngineName } from '../url.js';
import type { Engine } from './engine.js';
import { mysqlEngine } from './mysql.js';
import { postgresEngine } from './postgres.js';
import { sqliteEngine } from './sqlite.js';

export type { BulkColumn, Engine, PoolOptions } from './engine.js';
export { DEFAULT_POOL } from './engine.js';

const ENGINES: Readonly<Record<EngineName, Engine>> = {
  sqlite: sqliteEngine,
  postgresql: postgresEngine,
  mysql: mysqlEngine,
};

export function engineFor(name: EngineName): Engine {
  return ENGINES[name];
}
