import type { TestProject } from 'vitest/node';
import { withDatabase } from '../../src/db/connection.js';
import { engineFor } from '../../src/db/dialects/index.js';
import { sql } from 'kysely';
import type { EngineName } from '../../src/db/url.js';
import { describeError } from '../../src/errors.js';
import type { TestEngine } from './engines.js';
import { requiredEngines } from './required-engines.js';

/**
 * Decides which engines this run covers. SQLite always; PostgreSQL and
 * MariaDB when their servers answer (URLs overridable by environment).
 * CELLGROUPS_REQUIRE_ENGINES (CI sets it) lists engines whose absence is a
 * failure rather than a note (see required-engines.ts).
 */
const SERVERS: { name: EngineName; variable: string; fallback: string }[] = [
  {
    name: 'postgresql',
    variable: 'CELLGROUPS_TEST_POSTGRESQL_URL',
    fallback: 'postgresql://postgres@127.0.0.1:5432/postgres',
  },
  {
    name: 'mysql',
    variable: 'CELLGROUPS_TEST_MYSQL_URL',
    fallback: 'mysql+pymysql://root@127.0.0.1:3306/mysql?charset=utf8',
  },
];

export default async function setup(project: TestProject): Promise<void> {
  const engines: TestEngine[] = [{ name: 'sqlite', label: 'SQLite', serverUrl: undefined }];
  const missing: string[] = [];
  for (const server of SERVERS) {
    const url = process.env[server.variable] ?? server.fallback;
    const label = engineFor(server.name).label;
    try {
      await withDatabase(url, (db) => sql`select 1`.execute(db.db), {
        pool: { maxConnections: 1, connectTimeoutMs: 3000 },
      });
      engines.push({ name: server.name, label, serverUrl: url });
    } catch (error) {
      missing.push(server.name);
      const why = `${label} is not reachable at ${url} (${describeError(error)})`;
      if (requiredEngines().has(server.name)) {
        throw new Error(
          `${why}, and CELLGROUPS_REQUIRE_ENGINES requires it. Start it, or set ${server.variable}.`,
        );
      }
      console.warn(
        `cellgroups tests: skipping ${why}; set CELLGROUPS_REQUIRE_ENGINES=all to make this a failure.`,
      );
    }
  }
  console.log(`cellgroups tests cover: ${engines.map((e) => e.label).join(', ')}`);
  project.provide('engines', engines);
}
