import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, inject } from 'vitest';
import { DEFAULT_POOL, engineFor } from '../../src/db/dialects/index.js';
import { parseDatabaseUrl, type EngineName } from '../../src/db/url.js';

/** An engine the suite can reach, and the server URL to make databases on. */
export interface TestEngine {
  readonly name: EngineName;
  readonly label: string;
  /** A URL on the server (any database); undefined for SQLite. */
  readonly serverUrl: string | undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    engines: TestEngine[];
  }
}

/** The engines this run covers (decided once, by the global setup). */
export function testEngines(): TestEngine[] {
  return inject('engines');
}

/** Like Kysely's DIALECTS loop: one describe per engine around the same suite. */
export function forEachEngine(suite: (engine: TestEngine) => void): void {
  for (const engine of testEngines()) {
    describe(engine.label, () => {
      suite(engine);
    });
  }
}

/** The engines that have real concurrent writers (for race tests). */
export function forEachServerEngine(suite: (engine: TestEngine) => void): void {
  for (const engine of testEngines().filter((e) => e.serverUrl !== undefined)) {
    describe(engine.label, () => {
      suite(engine);
    });
  }
}

export interface FreshDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** A name no other run (or test) uses: cgt_<pid>_<random>. */
export function uniqueName(prefix = 'cgt'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Replaces the database name of a server URL. */
export function serverUrlFor(serverUrl: string, database: string): string {
  const [base = '', query] = serverUrl.split('?', 2);
  const slash = base.indexOf('/', base.indexOf('://') + 3);
  return `${slash < 0 ? base : base.slice(0, slash)}/${database}${query ? `?${query}` : ''}`;
}

/** The database a server URL names. */
export function databaseOf(url: string): string {
  const target = parseDatabaseUrl(url);
  if (target.engine === 'sqlite') throw new TypeError(`not a server URL: ${url}`);
  return target.database;
}

/** A new, empty database on `engine`; `drop()` removes it. */
export async function freshDatabase(engine: TestEngine, label = 'db'): Promise<FreshDatabase> {
  if (engine.serverUrl === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgt-'));
    return {
      url: `sqlite:///${path.join(dir, `${label}.sqlite`)}`,
      drop: () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const url = serverUrlFor(engine.serverUrl, uniqueName());
  const target = parseDatabaseUrl(url);
  const impl = engineFor(engine.name);
  await impl.createDatabase(target, DEFAULT_POOL);
  return { url, drop: () => impl.dropDatabase(target, DEFAULT_POOL) };
}
