/**
 * Benchmark: the online migration of instance groups (cells -> API
 * database) against two baselines measured in the same run, on each engine.
 *
 * - migration:  `runOnlineMigrations` with no max count, passes of
 *   `pass` rows (the CLI's --batch-size), `batchSize = batch` per cell, all cells at once
 *   (`parallel = cells`): what `cellgroups-manage db online_data_migrations
 *   --batch-size …` does.
 * - row by row: one group per transaction, as Nova's migration moved them:
 *   read the next live group with its policies and members, insert the
 *   group, its policy and its members in the API database and commit, then
 *   soft-delete the group, policies and members in the cell and commit. By
 *   default only the first 5,000 groups (`--row-by-row-groups`): its
 *   groups/s is extrapolated to the whole run.
 * - bulk copy:  the limit; the same rows copied with plain multi-row
 *   inserts and no protocol (no locks, no check of what the API database
 *   holds, no soft delete, API ids chosen by the copier), in batches of
 *   `batch` groups per cell, one API transaction per batch.
 *
 * All three work on every cell at once, so the ratios compare what each
 * does per group, not how many cells it drives. Each variant gets freshly
 * seeded databases (seeding is not timed), runs in a child process of its
 * own (so that its peak RSS is its own), and is verified afterwards: a run
 * that did not move exactly the seeded rows fails rather than report a speed.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/migrate.js [--help]
 *
 * Progress goes to stderr; stdout carries the figures and ends with one line
 * of JSON for scripts.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hrtime } from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import {
  TableNode,
  sql,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import { CellMappings } from '../src/cells/cell-mappings.js';
import { CellPool, type Cell } from '../src/cells/cell-pool.js';
import { openDatabase, withDatabase, type Database } from '../src/db/connection.js';
import { LEGACY_GROUPS_VERSION } from '../src/db/migrations/cell/002-instance-groups-moved.js';
import { syncSchema } from '../src/db/migrations/migrator.js';
import { withRetry } from '../src/db/retry.js';
import type { ApiDatabase } from '../src/db/schema/api.js';
import type { CellDatabase } from '../src/db/schema/cell.js';
import { maskPassword, parseDatabaseUrl, type EngineName } from '../src/db/url.js';
import { describeError } from '../src/errors.js';
import { instanceGroupsToApi } from '../src/online/instance-groups.js';
import type { MigrationEnv } from '../src/online/migration.js';
import { runOnlineMigrations } from '../src/online/registry.js';
import { writeLegacyGroups, type LegacyGroupRows } from '../tools/legacy-rows.js';
import {
  Cleanup,
  formatTable,
  intOption,
  interruption,
  Interrupted,
  stopIfInterrupted,
  createServerDatabase,
  listOption,
  UsageError,
} from './support.js';

const ENGINES: readonly EngineName[] = ['sqlite', 'postgresql', 'mysql'];
const LABEL: Readonly<Record<EngineName, string>> = {
  sqlite: 'SQLite',
  postgresql: 'PostgreSQL',
  mysql: 'MariaDB/MySQL',
};
const SERVER_URL: Readonly<Record<'postgresql' | 'mysql', { env: string; fallback: string }>> = {
  postgresql: {
    env: 'CELLGROUPS_BENCH_POSTGRESQL_URL',
    fallback: 'postgresql://postgres@127.0.0.1:5432/postgres',
  },
  mysql: {
    env: 'CELLGROUPS_BENCH_MYSQL_URL',
    fallback: 'mysql+pymysql://root@127.0.0.1:3306/mysql',
  },
};

const VARIANTS = ['migration', 'row-by-row', 'bulk-copy'] as const;
type Variant = (typeof VARIANTS)[number];
const VARIANT_LABEL: Readonly<Record<Variant, string>> = {
  migration: 'migration',
  'row-by-row': 'row by row',
  'bulk-copy': 'bulk copy',
};

/** Groups per seeding transaction (one multi-row statement per table per few thousand rows). */
const SEED_TRANSACTION = 10_000;
/** Groups whose rows are compared one by one after a run (on top of the counts). */
const SAMPLES = 40;
const LEGACY_EPOCH = Date.UTC(2019, 0, 1);

const USAGE = `Usage: node dist-bench/bench/migrate.js [options]

  --groups G              legacy groups seeded over all cells (default 100000)
  --members M             members per group (default 5)
  --cells C               cell databases (default 4)
  --engines LIST          comma-separated: sqlite,postgresql,mysql (default all three)
  --pass N                rows per pass of the migration without --max-count: the CLI's
                          --batch-size (default 25000; Nova's default is 50)
  --batch N               groups per batch per cell, for the migration and the bulk copy
                          (default 1000, the migration's own default)
  --row-by-row-groups R   groups the row-by-row baseline moves, its speed extrapolated
                          (default 5000; 0 or ≥ G: all of them)
  --variants LIST         comma-separated: migration,row-by-row,bulk-copy (default all three)
  --max-count N           run the migration as an operator's loop of
                          \`online_data_migrations --max-count N\` (repeated while it answers 1)
                          instead of passes until done; --batch still sets the batch size
  --profile               also run the migration and the bulk copy once more, one cell at
                          a time with every statement timed (not counted in the figures),
                          and print where their time goes, statement kind by kind

Servers are looked for at CELLGROUPS_BENCH_POSTGRESQL_URL (default ${SERVER_URL.postgresql.fallback})
and CELLGROUPS_BENCH_MYSQL_URL (default ${SERVER_URL.mysql.fallback}); an engine whose
server does not answer is skipped with a note. Every database is created for the run
(uniquely named) and dropped after it.`;

interface Options {
  readonly groups: number;
  readonly members: number;
  readonly cells: number;
  readonly engines: readonly EngineName[];
  readonly batch: number;
  /** Rows per pass of the migration without --max-count (the CLI's --batch-size). */
  readonly pass: number;
  readonly rowByRowGroups: number;
  readonly variants: readonly Variant[];
  readonly profile: boolean;
  readonly maxCount: number | null;
}

class VerificationError extends Error {}

const progress = (message: string): void => {
  console.error(message);
};

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        groups: { type: 'string' },
        members: { type: 'string' },
        cells: { type: 'string' },
        engines: { type: 'string' },
        batch: { type: 'string' },
        pass: { type: 'string' },
        'row-by-row-groups': { type: 'string' },
        variants: { type: 'string' },
        profile: { type: 'boolean' },
        'max-count': { type: 'string' },
        child: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

function parseOptions(values: ReturnType<typeof readFlags>): Options {
  const groups = intOption(values.groups, '--groups', 100_000, 1);
  const rowByRow = intOption(values['row-by-row-groups'], '--row-by-row-groups', 5_000, 0);
  return {
    groups,
    members: intOption(values.members, '--members', 5, 0),
    cells: intOption(values.cells, '--cells', 4, 1),
    engines: listOption(values.engines, '--engines', ENGINES, ENGINES),
    batch: intOption(values.batch, '--batch', 1_000, 1),
    pass: intOption(values.pass, '--pass', 25_000, 1),
    rowByRowGroups: rowByRow === 0 || rowByRow > groups ? groups : rowByRow,
    variants: listOption(values.variants, '--variants', VARIANTS, VARIANTS),
    profile: values.profile === true,
    maxCount:
      values['max-count'] === undefined
        ? null
        : intOption(values['max-count'], '--max-count', 0, 1),
  };
}

/** `total` split over `parts` as evenly as whole numbers allow (the first ones get the rest). */
function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  );
}

// ---- what a child process is asked to do, and what it answers -----------------------

interface Job {
  readonly variant: Variant;
  readonly engine: EngineName;
  readonly apiUrl: string;
  readonly cellUrls: readonly string[];
  readonly groups: number;
  readonly members: number;
  readonly batch: number;
  readonly pass: number;
  /** Groups this variant moves (fewer than `groups` for a row-by-row subset). */
  readonly moves: number;
  /** Cells worked on at once. */
  readonly parallel: number;
  /** The migration's --max-count, or null for passes of `batch × cells` until done. */
  readonly maxCount: number | null;
  /** Time every statement (a profiling run, not a timed one). */
  readonly profile: boolean;
}

interface StatementStats {
  readonly kind: string;
  readonly count: number;
  readonly totalMs: number;
}

interface Outcome {
  readonly variant: Variant;
  readonly moved: number;
  readonly seconds: number;
  /** Peak resident set of the child process over its life, MiB. */
  readonly peakRssMib: number;
  /** Resident set when the variant started (modules loaded, nothing opened), MiB. */
  readonly startRssMib: number;
  readonly statements?: readonly StatementStats[];
}

// ---- seeding ----------------------------------------------------------------------

const POLICIES = ['anti-affinity', 'affinity'] as const;

/** Legacy group number `n` of a cell: one policy row, `members` members, no duplicates. */
function seededGroup(n: number, members: number): LegacyGroupRows {
  return {
    uuid: randomUUID(),
    name: `legacy-${n}`,
    projectId: `project-${n % 100}`,
    userId: `user-${n % 1000}`,
    policies: [POLICIES[n % 2] ?? 'anti-affinity'],
    members: Array.from({ length: members }, () => randomUUID()),
    // Whole seconds: MariaDB's DATETIME keeps no fraction.
    createdAt: new Date(LEGACY_EPOCH + n * 1000),
  };
}

/** Creates a cell schema at the last version that may hold legacy groups, and fills it. */
async function seedCell(url: string, groups: number, members: number): Promise<void> {
  const cell = openDatabase<CellDatabase>(url, { pool: { maxConnections: 1 } });
  try {
    await syncSchema(cell, 'cell', LEGACY_GROUPS_VERSION);
    for (let first = 0; first < groups; first += SEED_TRANSACTION) {
      stopIfInterrupted();
      const count = Math.min(SEED_TRANSACTION, groups - first);
      const rows = Array.from({ length: count }, (_, i) => seededGroup(first + i, members));
      await cell.db.transaction().execute((tx) => writeLegacyGroups(tx, cell.engine, rows));
    }
    // A live cell's tables have statistics and settled pages; fresh bulk
    // inserts on PostgreSQL have neither until autovacuum comes by.
    if (cell.engine.name === 'postgresql') await sql`vacuum analyze`.execute(cell.db);
  } finally {
    await cell.close();
  }
}

/** Where a run's databases come from; whatever it makes, the cleanup removes. */
interface Place {
  readonly engine: EngineName;
  newDatabase(label: string): Promise<string>;
}

function sqlitePlace(dir: string): Place {
  return {
    engine: 'sqlite',
    newDatabase: (label) => Promise.resolve(`sqlite:///${path.join(dir, `${label}.sqlite`)}`),
  };
}

function serverPlace(
  engineName: 'postgresql' | 'mysql',
  serverUrl: string,
  cleanup: Cleanup,
): Place {
  return {
    engine: engineName,
    newDatabase: () => createServerDatabase(serverUrl, LABEL[engineName], cleanup),
  };
}

/** A fresh API database with `cells` mapped, freshly seeded cells: what one variant runs on. */
async function prepare(
  place: Place,
  variant: Variant,
  options: Options,
): Promise<{ apiUrl: string; cellUrls: string[] }> {
  const apiUrl = await place.newDatabase(`${variant}-api`);
  const cellUrls: string[] = [];
  await withDatabase(apiUrl, async (api: Database<ApiDatabase>) => {
    await syncSchema(api, 'api');
    const registry = new CellMappings(api);
    for (let i = 1; i <= options.cells; i++) {
      const url = await place.newDatabase(`${variant}-cell${i}`);
      await registry.create({
        name: `cell${i}`,
        transportUrl: `none:///cell${i}`,
        databaseConnection: url,
      });
      cellUrls.push(url);
    }
  });
  const perCell = split(options.groups, options.cells);
  await Promise.all(cellUrls.map((url, i) => seedCell(url, perCell[i] ?? 0, options.members)));
  return { apiUrl, cellUrls };
}

// ---- the variants (in the child process) -------------------------------------------

/**
 * Times every statement sent through the handles it is attached to, by
 * kind ("cell select instance_groups"). The time runs from compilation to
 * the result, so it includes a wait for a pooled connection; BEGIN and
 * COMMIT go straight to the driver and are not seen.
 */
class StatementTimer implements KyselyPlugin {
  private readonly started = new WeakMap<QueryId, { kind: string; at: bigint }>();
  readonly stats = new Map<string, { count: number; totalNs: bigint }>();

  constructor(private readonly prefix: string) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.started.set(args.queryId, { kind: this.kindOf(args.node), at: hrtime.bigint() });
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const start = this.started.get(args.queryId);
    if (start) {
      const entry = this.stats.get(start.kind) ?? { count: 0, totalNs: 0n };
      entry.count += 1;
      entry.totalNs += hrtime.bigint() - start.at;
      this.stats.set(start.kind, entry);
    }
    return Promise.resolve(args.result);
  }

  private kindOf(node: RootOperationNode): string {
    const table = (n: OperationNode | undefined): string =>
      n !== undefined && TableNode.is(n) ? n.table.identifier.name : '?';
    switch (node.kind) {
      case 'SelectQueryNode':
        return `${this.prefix} select ${table(node.from?.froms[0])}${node.endModifiers?.length ? ' for update' : ''}`;
      case 'InsertQueryNode':
        return `${this.prefix} insert ${table(node.into)}`;
      case 'UpdateQueryNode':
        return `${this.prefix} update ${table(node.table)}`;
      case 'DeleteQueryNode':
        return `${this.prefix} delete ${table(node.from.froms[0])}`;
      default:
        return `${this.prefix} ${node.kind}`;
    }
  }
}

/**
 * `online_data_migrations` without --max-count: passes of `pass` rows
 * until one moves nothing. With `maxCount`, an operator's loop instead:
 * `online_data_migrations --max-count N` again while it answers 1.
 */
async function runMigration(api: Database<ApiDatabase>, pool: CellPool, job: Job): Promise<number> {
  const env: MigrationEnv = {
    api,
    cells: pool,
    parallel: job.parallel,
    batchSize: job.batch,
    // A retry is rare on one server; say each one, for runs against a cluster.
    onRetry: (cell, error) => {
      console.error(`retry in ${cell.name ?? cell.uuid}: ${describeError(error)}`);
    },
  };
  let done = 0;
  for (;;) {
    const summary = await runOnlineMigrations(
      env,
      job.maxCount === null ? { batch: job.pass } : { maxCount: job.maxCount },
    );
    done += summary.totals.get(instanceGroupsToApi.name)?.done ?? 0;
    if (summary.exitCode === 0) return done;
    if (summary.exitCode !== 1 || job.maxCount === null) {
      throw new VerificationError(`online migrations ended with status ${summary.exitCode}`);
    }
  }
}

/** Nova's way: one group per pair of transactions, read, copy, soft-delete. */
async function moveOneByOne(
  api: Database<ApiDatabase>,
  cell: Cell,
  count: number,
): Promise<number> {
  const { db, engine } = cell.database;
  let moved = 0;
  for (; moved < count; moved++) {
    await db.transaction().execute(async (tx) => {
      const group = await engine
        .lockRows(
          tx
            .selectFrom('instance_groups')
            .selectAll()
            .where('deleted', '=', 0)
            .orderBy('id')
            .limit(1),
        )
        .executeTakeFirst();
      if (!group) throw new VerificationError(`${cell.mapping.name ?? '?'} ran out of groups`);
      const policies = await tx
        .selectFrom('instance_group_policy')
        .select('policy')
        .where('group_id', '=', group.id)
        .where('deleted', '=', 0)
        .orderBy('id')
        .execute();
      const members = await tx
        .selectFrom('instance_group_member')
        .select('instance_id')
        .where('group_id', '=', group.id)
        .where('deleted', '=', 0)
        .orderBy('id')
        .execute();

      await withRetry(api, () =>
        api.db.transaction().execute(async (atx) => {
          const id = await api.engine.insertReturningId(
            atx.insertInto('instance_groups').values({
              uuid: group.uuid,
              name: group.name,
              user_id: group.user_id,
              project_id: group.project_id,
              created_at: group.created_at,
              updated_at: group.updated_at,
            }),
          );
          const policy = policies[0]?.policy ?? null;
          if (policy !== null) {
            await atx
              .insertInto('instance_group_policy')
              .values({ group_id: id, policy, rules: null, created_at: group.created_at })
              .execute();
          }
          const uuids = [...new Set(members.map((m) => m.instance_id))].filter(
            (m): m is string => m !== null,
          );
          if (uuids.length > 0) {
            await atx
              .insertInto('instance_group_member')
              .values(
                uuids.map((m) => ({
                  group_id: id,
                  instance_uuid: m,
                  created_at: group.created_at,
                })),
              )
              .execute();
          }
        }),
      );

      const now = new Date();
      for (const table of ['instance_group_member', 'instance_group_policy'] as const) {
        await tx
          .updateTable(table)
          .set((eb) => ({ deleted: eb.ref('id'), deleted_at: now }))
          .where('group_id', '=', group.id)
          .where('deleted', '=', 0)
          .execute();
      }
      await tx
        .updateTable('instance_groups')
        .set((eb) => ({ deleted: eb.ref('id'), deleted_at: now }))
        .where('id', '=', group.id)
        .execute();
    });
  }
  return moved;
}

/** Keeps multi-row statements under every engine's bound-parameter limit (as the migration does). */
const MAX_PARAMETERS = 8_000;
function* chunks<T>(rows: readonly T[], columns: number): Generator<T[]> {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / columns));
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** Hands out API group ids to the bulk copy of every cell (one process: no race). */
class IdAllocator {
  private next = 1;
  take(n: number): number {
    const first = this.next;
    this.next += n;
    return first;
  }
}

/** The limit: read a batch, write it with plain multi-row inserts, nothing else. */
async function bulkCopy(
  api: Database<ApiDatabase>,
  cell: Cell,
  batch: number,
  ids: IdAllocator,
): Promise<number> {
  const { db } = cell.database;
  let last = 0;
  let copied = 0;
  for (;;) {
    const groups = await db
      .selectFrom('instance_groups')
      .select(['id', 'uuid', 'name', 'user_id', 'project_id', 'created_at', 'updated_at'])
      .where('deleted', '=', 0)
      .where('id', '>', last)
      .orderBy('id')
      .limit(batch)
      .execute();
    const lastGroup = groups.at(-1);
    if (!lastGroup) return copied;
    last = lastGroup.id;
    const cellIds = groups.map((g) => g.id);
    const [policies, members] = await Promise.all([
      db
        .selectFrom('instance_group_policy')
        .select(['group_id', 'policy'])
        .where('group_id', 'in', cellIds)
        .where('deleted', '=', 0)
        .orderBy('id')
        .execute(),
      db
        .selectFrom('instance_group_member')
        .select(['group_id', 'instance_id'])
        .where('group_id', 'in', cellIds)
        .where('deleted', '=', 0)
        .orderBy('id')
        .execute(),
    ]);

    // The same rows the migration writes: the first policy, each member once.
    const first = ids.take(groups.length);
    const apiId = new Map(groups.map((g, i) => [g.id, first + i]));
    const idOf = (cellId: number): number => {
      const id = apiId.get(cellId);
      if (id === undefined) throw new Error(`no API id for cell group ${cellId}`);
      return id;
    };
    const createdAt = new Map(groups.map((g) => [g.id, g.created_at]));
    const policyRows = new Map<
      number,
      { group_id: number; policy: string | null; rules: null; created_at: Date | null }
    >();
    for (const p of policies) {
      if (!policyRows.has(p.group_id)) {
        policyRows.set(p.group_id, {
          group_id: idOf(p.group_id),
          policy: p.policy,
          rules: null,
          created_at: createdAt.get(p.group_id) ?? null,
        });
      }
    }
    const seen = new Set<string>();
    const memberRows: { group_id: number; instance_uuid: string; created_at: Date | null }[] = [];
    for (const m of members) {
      if (m.instance_id === null || seen.has(`${m.group_id} ${m.instance_id}`)) continue;
      seen.add(`${m.group_id} ${m.instance_id}`);
      memberRows.push({
        group_id: idOf(m.group_id),
        instance_uuid: m.instance_id,
        created_at: createdAt.get(m.group_id) ?? null,
      });
    }

    await withRetry(api, () =>
      api.db.transaction().execute(async (tx) => {
        for (const part of chunks(groups, 7)) {
          await tx
            .insertInto('instance_groups')
            .values(
              part.map((g) => ({
                id: idOf(g.id),
                uuid: g.uuid,
                name: g.name,
                user_id: g.user_id,
                project_id: g.project_id,
                created_at: g.created_at,
                updated_at: g.updated_at,
              })),
            )
            .execute();
        }
        for (const part of chunks([...policyRows.values()], 4)) {
          await tx.insertInto('instance_group_policy').values(part).execute();
        }
        for (const part of chunks(memberRows, 3)) {
          await tx.insertInto('instance_group_member').values(part).execute();
        }
      }),
    );
    copied += groups.length;
  }
}

/** Runs `work` on every cell, `parallel` at a time; the sum of what they return. */
async function eachCell(
  cells: readonly Cell[],
  parallel: number,
  work: (cell: Cell, index: number) => Promise<number>,
): Promise<number> {
  const limit = pLimit(Math.max(1, parallel));
  const counts = await Promise.all(cells.map((cell, i) => limit(() => work(cell, i))));
  return counts.reduce((a, b) => a + b, 0);
}

async function runJob(job: Job): Promise<Outcome> {
  const startRss = process.memoryUsage().rss;
  const apiTimer = new StatementTimer('api');
  const cellTimer = new StatementTimer('cell');
  const api = openDatabase<ApiDatabase>(job.apiUrl, job.profile ? { plugins: [apiTimer] } : {});
  const pool = new CellPool(api, {
    mappingsTtlMs: 3_600_000,
    ...(job.profile ? { plugins: [cellTimer] } : {}),
  });
  let moved: number;
  let seconds: number;
  try {
    const cells = await pool.cells();
    if (cells.length !== job.cellUrls.length) {
      throw new VerificationError(`${cells.length} cells mapped, ${job.cellUrls.length} expected`);
    }
    const t0 = hrtime.bigint();
    switch (job.variant) {
      case 'migration':
        moved = await runMigration(api, pool, job);
        break;
      case 'row-by-row': {
        const quota = split(job.moves, cells.length);
        moved = await eachCell(cells, job.parallel, (cell, i) =>
          moveOneByOne(api, cell, quota[i] ?? 0),
        );
        break;
      }
      case 'bulk-copy': {
        const ids = new IdAllocator();
        moved = await eachCell(cells, job.parallel, (cell) => bulkCopy(api, cell, job.batch, ids));
        break;
      }
    }
    seconds = Number(hrtime.bigint() - t0) / 1e9;
  } finally {
    await pool.close();
    await api.close();
  }
  const statements = job.profile
    ? [...apiTimer.stats, ...cellTimer.stats].map(([kind, s]) => ({
        kind,
        count: s.count,
        totalMs: Number(s.totalNs) / 1e6,
      }))
    : undefined;
  return {
    variant: job.variant,
    moved,
    seconds,
    // maxRSS is in kibibytes.
    peakRssMib: process.resourceUsage().maxRSS / 1024,
    startRssMib: startRss / 2 ** 20,
    ...(statements ? { statements } : {}),
  };
}

/** Runs `job` in a child process (this script with --child) and waits for its outcome. */
function inChild(job: Job): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(job)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let outcome: Outcome | undefined;
    let failure: string | undefined;
    const stop = (): void => {
      child.kill('SIGTERM');
    };
    interruption.signal.addEventListener('abort', stop);
    child.on('message', (message: { outcome?: Outcome; error?: string }) => {
      outcome = message.outcome;
      failure = message.error;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      interruption.signal.removeEventListener('abort', stop);
      if (outcome && code === 0) resolve(outcome);
      else if (interruption.signal.aborted) reject(interruption.signal.reason as Error);
      else
        reject(
          new Error(
            `${VARIANT_LABEL[job.variant]} on ${LABEL[job.engine]} failed: ` +
              (failure ?? `child exited with ${signal ?? String(code)}`),
          ),
        );
    });
  });
}

async function childMain(jobText: string): Promise<void> {
  const send = (message: { outcome?: Outcome; error?: string }): Promise<void> =>
    new Promise((resolve) => {
      if (process.send)
        process.send(message, () => {
          resolve();
        });
      else resolve();
    });
  try {
    await send({ outcome: await runJob(JSON.parse(jobText) as Job) });
  } catch (error) {
    await send({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
  }
}

// ---- verification (in the parent, after the child) ---------------------------------

async function countRows(
  db: Database<ApiDatabase>['db'] | Database<CellDatabase>['db'],
  table: 'instance_groups' | 'instance_group_policy' | 'instance_group_member',
  liveOnly: boolean,
): Promise<number> {
  // Both schemas have these tables; only the cell's have `deleted`.
  const cellDb = db as Database<CellDatabase>['db'];
  let query = cellDb.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (liveOnly) query = query.where('deleted', '=', 0);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

function expectCount(what: string, actual: number, expected: number, failures: string[]): void {
  if (actual !== expected) failures.push(`${what}: ${actual}, expected ${expected}`);
}

/**
 * The API database holds exactly the moved groups (one policy each, every
 * member), the cells exactly the rest, and a sample of groups reads the same
 * on both sides. Throws a VerificationError naming every difference.
 */
async function verify(job: Job, options: Options): Promise<void> {
  const failures: string[] = [];
  const { moves, members } = job;
  await withDatabase(job.apiUrl, async (api: Database<ApiDatabase>) => {
    expectCount('API groups', await countRows(api.db, 'instance_groups', false), moves, failures);
    expectCount(
      'API policies',
      await countRows(api.db, 'instance_group_policy', false),
      moves,
      failures,
    );
    expectCount(
      'API members',
      await countRows(api.db, 'instance_group_member', false),
      moves * members,
      failures,
    );
    const perCell = split(options.groups, options.cells);
    const live = job.variant === 'bulk-copy' ? options.groups : options.groups - moves;
    let liveGroups = 0;
    let livePolicies = 0;
    let liveMembers = 0;
    let sampled = 0;
    for (const [i, url] of job.cellUrls.entries()) {
      await withDatabase(url, async (cell: Database<CellDatabase>) => {
        liveGroups += await countRows(cell.db, 'instance_groups', true);
        livePolicies += await countRows(cell.db, 'instance_group_policy', true);
        liveMembers += await countRows(cell.db, 'instance_group_member', true);
        // Samples among the groups this variant moved.
        const movedHere =
          job.variant === 'row-by-row' ? (split(moves, options.cells)[i] ?? 0) : (perCell[i] ?? 0);
        if (movedHere === 0) return;
        const firstId = await cell.db
          .selectFrom('instance_groups')
          .select((eb) => eb.fn.min<number | string>('id').as('id'))
          .executeTakeFirstOrThrow();
        const base = Number(firstId.id);
        for (let s = 0; s < Math.ceil(SAMPLES / options.cells); s++) {
          const offset = Math.floor(Math.random() * movedHere);
          const group = await cell.db
            .selectFrom('instance_groups')
            .selectAll()
            .where('id', '>=', base + offset)
            .orderBy('id')
            .limit(1)
            .executeTakeFirst();
          if (!group) continue;
          sampled++;
          const wrong = await compareGroup(api, cell, group.id);
          if (wrong) failures.push(`group ${group.uuid} (cell${i + 1}): ${wrong}`);
        }
      });
    }
    expectCount('live groups left in the cells', liveGroups, live, failures);
    expectCount('live policies left in the cells', livePolicies, live, failures);
    expectCount('live members left in the cells', liveMembers, live * members, failures);
    if (sampled === 0 && moves > 0) failures.push('no group could be sampled');
  });
  if (failures.length > 0) {
    throw new VerificationError(
      `${VARIANT_LABEL[job.variant]} on ${LABEL[job.engine]} did not move what it should:\n  ` +
        failures.slice(0, 20).join('\n  '),
    );
  }
}

/** undefined when the cell's group `id` reads the same in the API database, else what differs. */
async function compareGroup(
  api: Database<ApiDatabase>,
  cell: Database<CellDatabase>,
  id: number,
): Promise<string | undefined> {
  const source = await cell.db
    .selectFrom('instance_groups')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const copy = await api.db
    .selectFrom('instance_groups')
    .selectAll()
    .where('uuid', '=', source.uuid)
    .executeTakeFirst();
  if (!copy) return 'not in the API database';
  const diffs: string[] = [];
  if (copy.name !== source.name) diffs.push('name');
  if (copy.user_id !== source.user_id) diffs.push('user_id');
  if (copy.project_id !== source.project_id) diffs.push('project_id');
  if (copy.created_at?.getTime() !== source.created_at?.getTime()) diffs.push('created_at');
  const sourcePolicy = await cell.db
    .selectFrom('instance_group_policy')
    .select('policy')
    .where('group_id', '=', id)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  const copyPolicies = await api.db
    .selectFrom('instance_group_policy')
    .select('policy')
    .where('group_id', '=', copy.id)
    .execute();
  if (copyPolicies.length !== 1 || copyPolicies[0]?.policy !== sourcePolicy?.policy)
    diffs.push('policy');
  const sourceMembers = new Set(
    (
      await cell.db
        .selectFrom('instance_group_member')
        .select('instance_id')
        .where('group_id', '=', id)
        .execute()
    ).map((m) => m.instance_id),
  );
  const copyMembers = (
    await api.db
      .selectFrom('instance_group_member')
      .select('instance_uuid')
      .where('group_id', '=', copy.id)
      .execute()
  ).map((m) => m.instance_uuid);
  if (copyMembers.length !== sourceMembers.size || copyMembers.some((m) => !sourceMembers.has(m)))
    diffs.push('members');
  return diffs.length > 0 ? `${diffs.join(', ')} differ` : undefined;
}

// ---- one engine ----------------------------------------------------------------------

interface EngineFigures {
  readonly engine: EngineName;
  readonly outcomes: Partial<Record<Variant, Outcome>>;
  readonly profiles: Partial<Record<Variant, Outcome>>;
}

async function runEngine(
  engineName: EngineName,
  options: Options,
  makePlace: (cleanup: Cleanup) => Place,
): Promise<EngineFigures> {
  const outcomes: Partial<Record<Variant, Outcome>> = {};
  const runs: { variant: Variant; profile: boolean }[] = options.variants.map((variant) => ({
    variant,
    profile: false,
  }));
  if (options.profile) {
    runs.push({ variant: 'migration', profile: true }, { variant: 'bulk-copy', profile: true });
  }
  const profiles: Partial<Record<Variant, Outcome>> = {};
  for (const run of runs) {
    stopIfInterrupted();
    // Each variant's databases are dropped as soon as it is verified.
    const cleanup = new Cleanup();
    try {
      const label = `${LABEL[engineName]} ${VARIANT_LABEL[run.variant]}${run.profile ? ' (profiled)' : ''}`;
      let t = Date.now();
      const { apiUrl, cellUrls } = await prepare(makePlace(cleanup), run.variant, options);
      progress(
        `${label}: seeded ${options.groups} groups in ${((Date.now() - t) / 1000).toFixed(1)} s; running`,
      );
      const job: Job = {
        variant: run.variant,
        engine: engineName,
        apiUrl,
        cellUrls,
        groups: options.groups,
        members: options.members,
        batch: options.batch,
        pass: options.pass,
        moves: run.variant === 'row-by-row' ? options.rowByRowGroups : options.groups,
        parallel: run.profile ? 1 : options.cells,
        maxCount: options.maxCount,
        profile: run.profile,
      };
      t = Date.now();
      const outcome = await inChild(job);
      progress(`${label}: ${outcome.moved} groups in ${outcome.seconds.toFixed(2)} s; verifying`);
      if (outcome.moved !== job.moves) {
        throw new VerificationError(
          `${label}: moved ${outcome.moved} groups, expected ${job.moves}`,
        );
      }
      await verify(job, options);
      if (run.profile) profiles[run.variant] = outcome;
      else outcomes[run.variant] = outcome;
    } finally {
      await cleanup.run();
    }
  }
  return { engine: engineName, outcomes, profiles };
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

// ---- reporting -------------------------------------------------------------------------

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const rate = (o: Outcome | undefined): number | null =>
  o && o.seconds > 0 ? Math.round(o.moved / o.seconds) : null;
const ratio = (a: number | null, b: number | null): number | null =>
  a !== null && b !== null && b > 0 ? round(a / b) : null;

function engineJson(f: EngineFigures, options: Options): Record<string, unknown> {
  const m = rate(f.outcomes.migration);
  const r = rate(f.outcomes['row-by-row']);
  const b = rate(f.outcomes['bulk-copy']);
  const perVariant = (pick: (o: Outcome) => number, digits = 1): Record<string, number | null> =>
    Object.fromEntries(
      VARIANTS.map((v) => {
        const o = f.outcomes[v];
        return [v.replace(/-/g, '_'), o ? round(pick(o), digits) : null];
      }),
    );
  return {
    migration_groups_per_s: m,
    row_by_row_groups_per_s: r,
    bulk_copy_groups_per_s: b,
    ratio_vs_row_by_row: ratio(m, r),
    ratio_vs_bulk_copy: ratio(m, b),
    peak_rss_mib: perVariant((o) => o.peakRssMib),
    start_rss_mib: perVariant((o) => o.startRssMib),
    seconds: perVariant((o) => o.seconds, 3),
    row_by_row_groups_timed: f.outcomes['row-by-row'] ? options.rowByRowGroups : null,
    ...(f.profiles.migration || f.profiles['bulk-copy']
      ? {
          profile_ms: Object.fromEntries(
            (['migration', 'bulk-copy'] as const).map((v) => [
              v.replace(/-/g, '_'),
              Object.fromEntries(
                (f.profiles[v]?.statements ?? []).map((st) => [st.kind, round(st.totalMs, 1)]),
              ),
            ]),
          ),
        }
      : {}),
  };
}

/**
 * The profiled runs side by side, statement kind by kind: what the migration
 * spends beyond the bulk copy, and on what. One cell at a time, so statement
 * times do not overlap; what is left of the wall time is BEGIN/COMMIT (not
 * seen by Kysely plugins) and JavaScript.
 */
function profileTable(f: EngineFigures): string | undefined {
  const m = f.profiles.migration;
  const b = f.profiles['bulk-copy'];
  if (!m?.statements || !b?.statements) return undefined;
  const byKind = (o: Outcome) => new Map((o.statements ?? []).map((s) => [s.kind, s]));
  const mk = byKind(m);
  const bk = byKind(b);
  const kinds = [...new Set([...mk.keys(), ...bk.keys()])].sort(
    (x, y) => (mk.get(y)?.totalMs ?? 0) - (mk.get(x)?.totalMs ?? 0),
  );
  const sum = (o: Outcome) => (o.statements ?? []).reduce((a, s) => a + s.totalMs, 0);
  const cell = (s: StatementStats | undefined, wall: number) =>
    s
      ? [String(s.count), s.totalMs.toFixed(0), `${((100 * s.totalMs) / wall).toFixed(0)}%`]
      : ['', '', ''];
  const mWall = m.seconds * 1000;
  const bWall = b.seconds * 1000;
  const rows = kinds.map((k) => [k, ...cell(mk.get(k), mWall), ...cell(bk.get(k), bWall)]);
  rows.push(
    [
      'all statements',
      '',
      sum(m).toFixed(0),
      `${((100 * sum(m)) / mWall).toFixed(0)}%`,
      '',
      sum(b).toFixed(0),
      `${((100 * sum(b)) / bWall).toFixed(0)}%`,
    ],
    [
      'BEGIN/COMMIT, JavaScript',
      '',
      (mWall - sum(m)).toFixed(0),
      `${((100 * (mWall - sum(m))) / mWall).toFixed(0)}%`,
      '',
      (bWall - sum(b)).toFixed(0),
      `${((100 * (bWall - sum(b))) / bWall).toFixed(0)}%`,
    ],
    ['wall', '', mWall.toFixed(0), '', '', bWall.toFixed(0), ''],
  );
  return [
    `  where the time goes (profiled runs, one cell at a time, every statement timed; ` +
      `migration ${Math.round(m.moved / m.seconds)} groups/s, bulk copy ${Math.round(b.moved / b.seconds)} groups/s):`,
    formatTable(['statement', 'migration n', 'ms', 'share', 'bulk copy n', 'ms', 'share'], rows)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  ].join('\n');
}

function humanReport(f: EngineFigures, options: Options): string {
  const rows = VARIANTS.flatMap((v) => {
    const o = f.outcomes[v];
    if (!o) return [];
    const note =
      v === 'row-by-row' && options.rowByRowGroups < options.groups
        ? `first ${o.moved} groups, extrapolated`
        : v === 'migration'
          ? options.maxCount === null
            ? `passes of ${options.pass}, ${options.batch}/cell`
            : `--max-count ${options.maxCount}, ${options.batch}/cell`
          : v === 'bulk-copy'
            ? `batches of ${options.batch}/cell`
            : 'all groups';
    return [
      [
        VARIANT_LABEL[v],
        String(rate(o) ?? '-'),
        o.seconds.toFixed(2),
        o.peakRssMib.toFixed(1),
        o.startRssMib.toFixed(1),
        note,
      ],
    ];
  });
  const m = rate(f.outcomes.migration);
  const lines = [
    `${LABEL[f.engine]}:`,
    formatTable(['variant', 'groups/s', 'seconds', 'peak RSS MiB', 'start RSS MiB', 'how'], rows)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    `  ratio_vs_row_by_row: ${ratio(m, rate(f.outcomes['row-by-row'])) ?? '-'}; ` +
      `ratio_vs_bulk_copy: ${ratio(m, rate(f.outcomes['bulk-copy'])) ?? '-'} (target ≥ 0.7)`,
  ];
  const profiled = profileTable(f);
  if (profiled) lines.push(profiled);
  return lines.join('\n');
}

function describeVariants(options: Options): string {
  const how: Record<Variant, string> = {
    migration:
      options.maxCount === null
        ? `migration: runOnlineMigrations, passes of ${options.pass} ` +
          `(batchSize ${options.batch}, parallel ${options.cells})`
        : `migration: runOnlineMigrations with maxCount ${options.maxCount}, repeated while it answers 1 ` +
          `(batchSize ${options.batch}, parallel ${options.cells})`,
    'row-by-row':
      options.rowByRowGroups < options.groups
        ? `row by row: the first ${options.rowByRowGroups} groups, groups/s extrapolated`
        : 'row by row: every group',
    'bulk-copy': `bulk copy: batches of ${options.batch} per cell`,
  };
  return options.variants.map((v) => how[v]).join('; ');
}

// ---- the run -----------------------------------------------------------------------

async function main(options: Options): Promise<void> {
  const cleanup = new Cleanup();
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping after the current step, then cleaning up`);
    interruption.abort(new Interrupted(signal));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'cgb-migrate-'));
    cleanup.add(`remove ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true });
    });
    const figures: EngineFigures[] = [];
    const notes: string[] = [];
    for (const engineName of options.engines) {
      stopIfInterrupted();
      let makePlace: (c: Cleanup) => Place;
      if (engineName === 'sqlite') {
        makePlace = (c) => {
          const files = mkdtempSync(path.join(dir, 'run-'));
          c.add(`remove ${files}`, () => {
            rmSync(files, { recursive: true, force: true });
          });
          return sqlitePlace(files);
        };
      } else {
        const { env, fallback } = SERVER_URL[engineName];
        const serverUrl = process.env[env] ?? fallback;
        if (parseDatabaseUrl(serverUrl).engine !== engineName) {
          throw new UsageError(
            `${env} is not a ${LABEL[engineName]} URL: ${maskPassword(serverUrl)}`,
          );
        }
        const why = await unreachable(serverUrl);
        if (why !== undefined) {
          notes.push(
            `${LABEL[engineName]} does not answer at ${maskPassword(serverUrl)} (${why}): skipped.`,
          );
          continue;
        }
        makePlace = (c) => serverPlace(engineName, serverUrl, c);
      }
      figures.push(await runEngine(engineName, options, makePlace));
    }

    console.log(
      [
        `Online migration benchmark: ${options.groups} legacy groups × ${options.members} members ` +
          `over ${options.cells} cells (API and cells on the same engine)`,
        `  ${describeVariants(options)}; every variant on all cells at once, on freshly seeded ` +
          'databases, in its own process',
        '',
        ...figures.map((f) => humanReport(f, options)),
        ...notes,
      ].join('\n'),
    );
    console.log(
      JSON.stringify({
        bench: 'migrate',
        groups: options.groups,
        members: options.members,
        cells: options.cells,
        batch: options.batch,
        pass: options.pass,
        ...Object.fromEntries(ENGINES.map((e) => [e, null])),
        ...Object.fromEntries(figures.map((f) => [f.engine, engineJson(f, options)])),
      }),
    );
  } finally {
    await cleanup.run();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

try {
  const values = readFlags(process.argv.slice(2));
  if (values.child !== undefined) await childMain(values.child);
  else if (values.help === true) console.log(USAGE);
  else await main(parseOptions(values));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof Interrupted) {
    console.error(`migrate benchmark ${error.message}; its databases are removed`);
    process.exitCode = error.signal === 'SIGINT' ? 130 : 143;
  } else {
    console.error(
      'migrate benchmark failed:',
      error instanceof VerificationError ? error.message : error,
    );
    process.exitCode = 1;
  }
}
