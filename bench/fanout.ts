/**
 * Benchmark: latency of listing one page of a project's server groups when
 * they are spread over the API database and 1, 10 or 50 cell databases
 * (and, when a server answers, over PostgreSQL cells).
 *
 * Every configuration gets a fresh API database (SQLite), so its cell
 * registry holds exactly that many cells, each seeded alike with legacy
 * groups; the API database holds 100 groups created through the service.
 * The figures are for `GroupService.list` exactly as the API will call it,
 * so they include the fan-out, the per-cell shadow check and the merge.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/fanout.js [--help]
 *
 * Progress goes to stderr; stdout carries the table and ends with one line
 * of JSON for scripts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hrtime } from 'node:process';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { CellMappings } from '../src/cells/cell-mappings.js';
import { requestContext } from '../src/context.js';
import { openDatabase, withDatabase } from '../src/db/connection.js';
import { DEFAULT_POOL, engineFor } from '../src/db/dialects/index.js';
import { LEGACY_GROUPS_VERSION } from '../src/db/migrations/cell/002-instance-groups-moved.js';
import { syncSchema } from '../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../src/db/schema/api.js';
import type { CellDatabase } from '../src/db/schema/cell.js';
import { maskPassword, parseDatabaseUrl } from '../src/db/url.js';
import { describeError } from '../src/errors.js';
import type { MergedList } from '../src/groups/merge.js';
import { GroupService } from '../src/groups/service.js';
import { insertLegacyGroups, type LegacyGroup } from '../tools/legacy-rows.js';
import {
  Cleanup,
  StatementCounter,
  formatTable,
  percentile,
  roundMs,
  serverUrlFor,
  uniqueName,
  intOption,
  interruption,
  Interrupted,
  stopIfInterrupted,
  UsageError,
} from './support.js';

const SQLITE_CELL_COUNTS = [1, 10, 50] as const;
const API_GROUPS = 100;
const WARMUP_CALLS = 20;
const PROJECT = 'p1';
const CONTEXT = requestContext('u1', PROJECT);
const PAGE = { limit: 25, offset: 0 } as const;
const MEMBERS_PER_GROUP = 3;
const DEFAULT_POSTGRESQL_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
/** Legacy groups predate the API ones; every cell gets the same creation times (see legacyGroups). */
const LEGACY_EPOCH = Date.UTC(2020, 0, 1);

const USAGE = `Usage: node dist-bench/bench/fanout.js [options]

  --groups-per-cell N   legacy groups seeded in every cell (default 200)
  --iterations N        timed list calls per configuration, after ${WARMUP_CALLS} warm-up calls (default 200)
  --pg-cells N          PostgreSQL cells of the PostgreSQL run, next to a 1-cell baseline (default 10; 0 skips it)

PostgreSQL is looked for at CELLGROUPS_BENCH_POSTGRESQL_URL (default ${DEFAULT_POSTGRESQL_URL});
the run is skipped with a note when it does not answer.`;

interface Options {
  readonly groupsPerCell: number;
  readonly iterations: number;
  readonly pgCells: number;
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  const values = readFlags(argv);
  if (values.help === true) return 'help';
  return {
    groupsPerCell: intOption(values['groups-per-cell'], '--groups-per-cell', 200, 0),
    iterations: intOption(values.iterations, '--iterations', 200, 1),
    pgCells: intOption(values['pg-cells'], '--pg-cells', 10, 0),
  };
}

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        'groups-per-cell': { type: 'string' },
        iterations: { type: 'string' },
        'pg-cells': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

const progress = (message: string): void => {
  console.error(message);
};

// ---- where cell databases come from ------------------------------------------

/** An engine that makes empty cell databases; whatever it makes, the cleanup removes. */
interface CellEngine {
  readonly label: string;
  /** A new, empty database for cell `cell` of configuration `configuration`; returns its URL. */
  newDatabase(configuration: string, cell: string): Promise<string>;
}

/** SQLite files under the run's temporary directory (removed with it). */
function sqliteCells(dir: string): CellEngine {
  return {
    label: 'SQLite',
    newDatabase: (configuration, cell) =>
      Promise.resolve(`sqlite:///${path.join(dir, configuration, `${cell}.sqlite`)}`),
  };
}

/** Uniquely named databases on a PostgreSQL server, dropped by the cleanup. */
function postgresCells(serverUrl: string, cleanup: Cleanup): CellEngine {
  const engine = engineFor('postgresql');
  return {
    label: 'PostgreSQL',
    async newDatabase() {
      const name = uniqueName('cgb');
      const url = serverUrlFor(serverUrl, name);
      const target = parseDatabaseUrl(url);
      // Registered before CREATE DATABASE: a create that fails half-way still
      // gets its drop, and dropping one that was never made is a no-op (IF EXISTS).
      cleanup.add(`drop PostgreSQL database ${name}`, () =>
        engine.dropDatabase(target, DEFAULT_POOL),
      );
      await engine.createDatabase(target, DEFAULT_POOL);
      return url;
    },
  };
}

/** undefined when a server answers `select 1` at `url`, else why not. */
async function unreachable(url: string): Promise<string | undefined> {
  try {
    await withDatabase(url, (database) => sql`select 1`.execute(database.db), {
      pool: { maxConnections: 1, connectTimeoutMs: 3_000 },
    });
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

// ---- seeding -------------------------------------------------------------------

/**
 * The legacy groups of one cell: one policy and three members each. Every
 * cell gets the same creation times, a minute apart, so the first page of
 * the merged list draws from many cells rather than from the first one.
 */
function legacyGroups(count: number): LegacyGroup[] {
  return Array.from({ length: count }, (_, n) => ({
    name: `legacy-${n}`,
    projectId: PROJECT,
    userId: CONTEXT.userId,
    policies: ['anti-affinity'],
    members: Array.from({ length: MEMBERS_PER_GROUP }, () => randomUUID()),
    createdAt: new Date(LEGACY_EPOCH + n * 60_000),
  }));
}

/**
 * Syncs one cell's schema to the legacy version (cells still holding groups
 * are there: past it, the blocker guarantees none, and lists skip the cell)
 * and seeds its legacy groups.
 */
async function seedCell(url: string, groups: number): Promise<void> {
  const database = openDatabase<CellDatabase>(url, { pool: { maxConnections: 1 } });
  try {
    await syncSchema(database, 'cell', LEGACY_GROUPS_VERSION);
    // One transaction per group (the test helper's way, so the rows are
    // exactly what the tests write); fast enough at these sizes.
    await insertLegacyGroups(database.db, legacyGroups(groups));
  } finally {
    await database.close();
  }
}

// ---- one configuration -----------------------------------------------------------

interface Figures {
  readonly engine: string;
  readonly cells: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Statements one list sends to the API database. */
  readonly apiStatements: number;
  /** Statements one list sends to the cell databases, all together. */
  readonly cellStatements: number;
}

const statementsPerList = (f: Figures): number => f.apiStatements + f.cellStatements;

/** Fails loudly on a page that is short or missing a cell: its timing would be meaningless. */
function checkPage(result: MergedList, configuration: string): void {
  if (result.unavailable.length > 0) {
    const why = result.unavailable.map((u) => `${u.name ?? u.uuid}: ${u.reason}`).join('; ');
    throw new Error(
      `${configuration}: ${result.unavailable.length} cell(s) did not answer (${why})`,
    );
  }
  if (result.groups.length !== PAGE.limit) {
    throw new Error(`${configuration}: expected ${PAGE.limit} groups, got ${result.groups.length}`);
  }
}

async function runConfiguration(
  engine: CellEngine,
  cellCount: number,
  dir: string,
  options: Options,
): Promise<Figures> {
  const configuration = `${engine.label.toLowerCase()}-${cellCount}`;
  const label = `${cellCount} ${engine.label} cell${cellCount === 1 ? '' : 's'}`;
  const apiUrl = `sqlite:///${path.join(dir, configuration, 'nova_api.sqlite')}`;
  const started = Date.now();

  // The registry: a fresh API database, so it holds exactly these cells.
  const cells: { uuid: string; name: string; url: string }[] = [];
  const api = openDatabase<ApiDatabase>(apiUrl);
  try {
    await syncSchema(api, 'api');
    const registry = new CellMappings(api);
    // One at a time: concurrent CREATE DATABASE statements may trip over each other's use of the template.
    for (let i = 1; i <= cellCount; i++) {
      stopIfInterrupted();
      const name = `cell${i}`;
      const url = await engine.newDatabase(configuration, name);
      const mapping = await registry.create({
        name,
        transportUrl: `none:///${name}`,
        databaseConnection: url,
      });
      cells.push({ uuid: mapping.uuid, name, url });
    }
  } finally {
    await api.close();
  }
  // Cells are independent databases: seed them side by side.
  await Promise.all(cells.map((cell) => seedCell(cell.url, options.groupsPerCell)));

  // The API database's groups go in through the service, as the API will create them.
  const seeding = GroupService.open(apiUrl);
  try {
    for (let n = 0; n < API_GROUPS; n++) {
      stopIfInterrupted();
      await seeding.create(CONTEXT, {
        name: `api-${n}`,
        policy: 'anti-affinity',
        members: Array.from({ length: MEMBERS_PER_GROUP }, () => randomUUID()),
      });
    }
  } finally {
    await seeding.close();
  }
  progress(`${label}: seeded in ${((Date.now() - started) / 1000).toFixed(1)} s; timing`);

  // The timed calls, on a service of its own whose cells open during the warm-up.
  const samples: number[] = [];
  const service = GroupService.open(apiUrl);
  try {
    for (let i = 0; i < WARMUP_CALLS; i++) checkPage(await service.list(CONTEXT, PAGE), label);
    for (let i = 0; i < options.iterations; i++) {
      stopIfInterrupted();
      const t0 = hrtime.bigint();
      const result = await service.list(CONTEXT, PAGE);
      const t1 = hrtime.bigint();
      samples.push(Number(t1 - t0) / 1e6);
      checkPage(result, label);
    }
  } finally {
    await service.close();
  }

  // The statements of one list, counted by plugins on the API handle and on
  // every cell handle of a service kept apart from the timed one (so that
  // counting costs the timings nothing). The long mapping TTL keeps the
  // periodic cell_mappings read (once per 5 s by default) out of the count.
  const apiCounter = new StatementCounter();
  const cellCounter = new StatementCounter();
  const counted = new GroupService(openDatabase<ApiDatabase>(apiUrl, { plugins: [apiCounter] }), {
    cells: { mappingsTtlMs: 3_600_000, plugins: [cellCounter] },
  });
  let apiStatements: number;
  let cellStatements: number;
  try {
    checkPage(await counted.list(CONTEXT, PAGE), label); // reads cell_mappings, opens the cells
    apiCounter.count = 0;
    cellCounter.count = 0;
    checkPage(await counted.list(CONTEXT, PAGE), label);
    apiStatements = apiCounter.count;
    cellStatements = cellCounter.count;
  } finally {
    await counted.close();
  }

  samples.sort((a, b) => a - b);
  return {
    engine: engine.label,
    cells: cellCount,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    apiStatements,
    cellStatements,
  };
}

// ---- the run -----------------------------------------------------------------------

/** Runs the given cell counts one after another (each on its own databases). */
async function runSeries(
  engine: CellEngine,
  counts: readonly number[],
  dir: string,
  options: Options,
): Promise<Figures[]> {
  const figures: Figures[] = [];
  for (const count of [...new Set(counts)]) {
    stopIfInterrupted();
    figures.push(await runConfiguration(engine, count, dir, options));
  }
  return figures;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** p50 of the most cells over p50 of one cell. */
function p50Ratio(figures: readonly Figures[], cells: number): number {
  const one = figures.find((f) => f.cells === 1);
  const many = figures.find((f) => f.cells === cells);
  if (!one || !many) throw new Error(`no figures for 1 and ${cells} cells`);
  return round2(many.p50Ms / one.p50Ms);
}

/**
 * Per cell and per list, at the largest cell count: statements on the cell
 * databases (averaged over the cells: a cell with no group on the page needs
 * fewer) and on the API database (its count beyond the one-cell run, per
 * added cell).
 */
function statementsPerCell(figures: readonly Figures[]): { cell_db: number; api_db: number } {
  const [first] = figures;
  const last = figures.at(-1);
  if (!first || !last) return { cell_db: 0, api_db: 0 };
  const apiSlope =
    last.cells > first.cells
      ? (last.apiStatements - first.apiStatements) / (last.cells - first.cells)
      : 0;
  return { cell_db: round2(last.cellStatements / last.cells), api_db: round2(apiSlope) };
}

function figuresJson(figures: readonly Figures[]): Record<string, object> {
  return Object.fromEntries(
    figures.map((f) => [
      String(f.cells),
      { p50_ms: roundMs(f.p50Ms), p99_ms: roundMs(f.p99Ms), statements: statementsPerList(f) },
    ]),
  );
}

async function main(options: Options): Promise<void> {
  // A malformed URL is a mistake to report now, not after the SQLite runs.
  const pgUrl = process.env.CELLGROUPS_BENCH_POSTGRESQL_URL ?? DEFAULT_POSTGRESQL_URL;
  if (parseDatabaseUrl(pgUrl).engine !== 'postgresql') {
    throw new UsageError(
      `CELLGROUPS_BENCH_POSTGRESQL_URL is not a PostgreSQL URL: ${maskPassword(pgUrl)}`,
    );
  }

  const cleanup = new Cleanup();
  // `once`: a second signal gets Node's default, an immediate exit.
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping after the current step, then cleaning up`);
    interruption.abort(new Interrupted(signal));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgb-'));
    cleanup.add(`remove ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true });
    });

    const sqlite = await runSeries(sqliteCells(dir), SQLITE_CELL_COUNTS, dir, options);

    let postgresql: Figures[] | null = null;
    let pgNote: string | undefined;
    if (options.pgCells === 0) {
      pgNote = 'PostgreSQL run skipped (--pg-cells 0).';
    } else {
      const why = await unreachable(pgUrl);
      if (why === undefined) {
        postgresql = await runSeries(
          postgresCells(pgUrl, cleanup),
          [1, options.pgCells],
          dir,
          options,
        );
      } else {
        pgNote = `PostgreSQL does not answer at ${maskPassword(pgUrl)} (${why}): PostgreSQL run skipped.`;
      }
    }

    const all = [...sqlite, ...(postgresql ?? [])];
    const maxSqlite = Math.max(...SQLITE_CELL_COUNTS);
    const perCell = statementsPerCell(sqlite);
    console.log(
      [
        `Fan-out list benchmark: GroupService.list(project ${PROJECT}, limit ${PAGE.limit}, offset ${PAGE.offset})`,
        `  ${options.groupsPerCell} legacy groups per cell (1 policy, ${MEMBERS_PER_GROUP} members each), ` +
          `${API_GROUPS} groups in the API database (SQLite)`,
        `  ${WARMUP_CALLS} warm-up calls, then ${options.iterations} timed calls per configuration`,
        '',
        formatTable(
          ['engine', 'cells', 'p50 ms', 'p99 ms', 'statements/list'],
          all.map((f) => [
            f.engine,
            String(f.cells),
            roundMs(f.p50Ms).toFixed(3),
            roundMs(f.p99Ms).toFixed(3),
            String(statementsPerList(f)),
          ]),
        ),
        '',
        `p50 ratio, ${maxSqlite} SQLite cells / 1: ${p50Ratio(sqlite, maxSqlite)}`,
        postgresql
          ? `p50 ratio, ${options.pgCells} PostgreSQL cells / 1: ${p50Ratio(postgresql, options.pgCells)}`
          : (pgNote ?? ''),
        `statements per cell per list (at the most cells): ${perCell.cell_db} on the cell's database, ` +
          `${perCell.api_db} on the API database`,
      ].join('\n'),
    );
    console.log(
      JSON.stringify({
        bench: 'fanout',
        groups_per_cell: options.groupsPerCell,
        iterations: options.iterations,
        sqlite: figuresJson(sqlite),
        [`ratio_${maxSqlite}_to_1`]: p50Ratio(sqlite, maxSqlite),
        postgresql: postgresql ? figuresJson(postgresql) : null,
        [`ratio_pg_${options.pgCells}_to_1`]: postgresql
          ? p50Ratio(postgresql, options.pgCells)
          : null,
        statements_per_cell: perCell,
      }),
    );
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') console.log(USAGE);
  else await main(options);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof Interrupted) {
    console.error(`fanout benchmark ${error.message}; its databases are removed`);
    process.exitCode = error.signal === 'SIGINT' ? 130 : 143;
  } else {
    console.error('fanout benchmark failed:', error);
    process.exitCode = 1;
  }
}
