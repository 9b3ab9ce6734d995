/**
 * Benchmark: the os-server-groups compute API under load, on each engine,
 * against a bare server measured in the same run.
 *
 * On every engine the run makes an API database with one cell (empty,
 * synced), seeds a project with 100 groups, and starts two servers in
 * processes of their own on those databases: the real app (`buildApp`, as
 * `cellgroups-api` serves it) and the bare server of bench/bare-api-server.ts
 * (node:http and straight Kysely queries through the same driver: the
 * ceiling). autocannon, in this process, then drives each call against one
 * server and then the other:
 *
 * - create: POST, serially (one connection), each request in a project of its
 *   own (the default quota of 10 groups per project stays on and is counted);
 * - show:   GET of one of the 100 groups, in turn, over 4 connections;
 * - list:   GET of the project's 100 groups (all on one page), 4 connections;
 * - delete: DELETE, serially, each request a distinct group seeded for it.
 *
 * Every request carries `OpenStack-API-Version: compute 2.64` and the noauth2
 * token `user:project`. Any answer but the expected status fails the run.
 *
 *   npm run bench:api -- [--help]
 *
 * Progress goes to stderr; stdout carries the figures and ends with one line
 * of JSON for scripts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { CellMappings } from '../src/cells/cell-mappings.js';
import { syncCellDatabase } from '../src/cells/setup.js';
import { withDatabase, type Database } from '../src/db/connection.js';
import { syncSchema } from '../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../src/db/schema/api.js';
import { maskPassword, parseDatabaseUrl, type EngineName } from '../src/db/url.js';
import { describeError } from '../src/errors.js';
import type { ServerJob, ServerKind, ServerMessage } from './api-server-child.js';
import {
  Cleanup,
  formatTable,
  intOption,
  interruption,
  Interrupted,
  percentile,
  roundMs,
  stopIfInterrupted,
  createServerDatabase,
  listOption,
  UsageError,
} from './support.js';

/** Engines as the flag names them; MariaDB is the `mysql` engine of the URLs. */
const ENGINES = ['sqlite', 'postgresql', 'mariadb'] as const;
type EngineFlag = (typeof ENGINES)[number];
const ENGINE_OF: Readonly<Record<EngineFlag, EngineName>> = {
  sqlite: 'sqlite',
  postgresql: 'postgresql',
  mariadb: 'mysql',
};
const LABEL: Readonly<Record<EngineFlag, string>> = {
  sqlite: 'SQLite',
  postgresql: 'PostgreSQL',
  mariadb: 'MariaDB',
};
/** Where a server engine's URL comes from when no flag gives it, in order. */
const URL_VARIABLES: Readonly<Record<'postgresql' | 'mariadb', readonly string[]>> = {
  postgresql: ['CELLGROUPS_BENCH_POSTGRESQL_URL', 'CELLGROUPS_TEST_POSTGRESQL_URL'],
  mariadb: ['CELLGROUPS_BENCH_MYSQL_URL', 'CELLGROUPS_TEST_MYSQL_URL'],
};

const CALLS = ['create', 'show', 'list', 'delete'] as const;
type Call = (typeof CALLS)[number];
const KINDS: readonly ServerKind[] = ['app', 'bare'];

const MICROVERSION = '2.64';
const LIST_GROUPS = 100;
const LIST_PROJECT = 'bench-list';
const USER = 'bench';
const BASE = '/v2.1/os-server-groups';
/** The issue's targets: each call at least this share of the bare server's req/s… */
const TARGET_RATIO = 0.7;
/** …and the app's list of 100 groups answered within this, at p99. */
const TARGET_LIST_P99_MS = 20;
/**
 * Before each stretch of deletes, enough groups are seeded (untimed) for this
 * many times the fastest rate that server deleted at so far (at first: a
 * guess well above any measured here; on a busy machine one second can be
 * ten times faster than the one before), and never fewer than a thousand. A stretch that
 * still runs out stops early and is timed over what it did.
 */
const DELETE_HEADROOM = 3;
const DELETE_MIN_REFILL = 1_000;
const DELETE_FIRST_GUESS_RPS = 5_000;
/** Rows per seeding statement. */
const SEED_CHUNK = 500;

const USAGE = `Usage: npm run bench:api -- [options]

  --engines LIST          comma-separated: sqlite,postgresql,mariadb (default: sqlite and
                          every server engine whose URL is configured)
  --calls LIST            comma-separated: create,show,list,delete (default all four)
  --seconds N             timed seconds per call and server (default 5)
  --warmup N              warm-up seconds per call and server before timing (default 1; 0: none)
  --slices N              turns the app and the bare server take, alternating, within the
                          timed seconds of a call (default 5): background load then weighs
                          on both alike
  --postgresql-url URL    PostgreSQL server (default: CELLGROUPS_BENCH_POSTGRESQL_URL,
                          else CELLGROUPS_TEST_POSTGRESQL_URL)
  --mysql-url URL         MariaDB/MySQL server (default: CELLGROUPS_BENCH_MYSQL_URL,
                          else CELLGROUPS_TEST_MYSQL_URL)
  --cpu-prof DIR          run both servers with --cpu-prof, profiles written to DIR

Each call runs against the app and the bare server in turns, on the same databases:
create (1 connection), show (4), list of ${LIST_GROUPS} groups (4), delete (1); microversion
${MICROVERSION}, noauth2. An engine asked for (or configured) whose server does not answer
is an error. Every database is created for the run (uniquely named) and dropped after it.`;

interface Options {
  readonly engines: readonly EngineFlag[];
  readonly calls: readonly Call[];
  readonly seconds: number;
  readonly warmup: number;
  /** Turns each server takes per call (the timed seconds split between them). */
  readonly slices: number;
  readonly serverUrls: Readonly<Partial<Record<'postgresql' | 'mariadb', string>>>;
  readonly cpuProfDir: string | undefined;
}

const progress = (message: string): void => {
  console.error(message);
};

function readFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        engines: { type: 'string' },
        calls: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        slices: { type: 'string' },
        'postgresql-url': { type: 'string' },
        'mysql-url': { type: 'string' },
        'cpu-prof': { type: 'string' },
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
  const serverUrls: Partial<Record<'postgresql' | 'mariadb', string>> = {};
  for (const engine of ['postgresql', 'mariadb'] as const) {
    const flag = engine === 'postgresql' ? '--postgresql-url' : '--mysql-url';
    const given =
      values[engine === 'postgresql' ? 'postgresql-url' : 'mysql-url'] ??
      URL_VARIABLES[engine].map((v) => process.env[v]).find((v) => v !== undefined && v !== '');
    if (given === undefined) continue;
    let parsed: EngineName;
    try {
      parsed = parseDatabaseUrl(given).engine;
    } catch (error) {
      throw new UsageError(`${flag} (or its variable): ${describeError(error)}`);
    }
    if (parsed !== ENGINE_OF[engine]) {
      throw new UsageError(
        `${flag} (or its variable) is not a ${LABEL[engine]} URL: ${maskPassword(given)}`,
      );
    }
    serverUrls[engine] = given;
  }
  const configured = ENGINES.filter((e) => e === 'sqlite' || serverUrls[e] !== undefined);
  const engines = listOption(values.engines, '--engines', ENGINES, configured);
  for (const engine of engines) {
    if (engine !== 'sqlite' && serverUrls[engine] === undefined) {
      throw new UsageError(
        `--engines asks for ${LABEL[engine]} but no URL is given: use ${engine === 'postgresql' ? '--postgresql-url' : '--mysql-url'} or set ${URL_VARIABLES[engine].join(' or ')}.`,
      );
    }
  }
  return {
    engines,
    calls: listOption(values.calls, '--calls', CALLS, CALLS),
    seconds: intOption(values.seconds, '--seconds', 5, 1),
    warmup: intOption(values.warmup, '--warmup', 1, 0),
    slices: intOption(values.slices, '--slices', 5, 1),
    serverUrls,
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : path.resolve(values['cpu-prof']),
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

// ---- databases ---------------------------------------------------------------------

/** A new, empty database of the engine; whatever it makes, `cleanup` removes. */
type NewDatabase = (label: string) => Promise<string>;

function sqliteDatabases(dir: string): NewDatabase {
  return (label) => Promise.resolve(`sqlite:///${path.join(dir, `${label}.sqlite`)}`);
}

function serverDatabases(engine: EngineFlag, serverUrl: string, cleanup: Cleanup): NewDatabase {
  return () => createServerDatabase(serverUrl, LABEL[engine], cleanup);
}

/**
 * `count` groups of `projectId` (anti-affinity, no rules, no members) written
 * straight into the API database, a few hundred rows a statement; returns
 * their uuids in creation order.
 */
async function seedGroups(
  api: Database<ApiDatabase>,
  projectId: string,
  count: number,
): Promise<string[]> {
  const uuids: string[] = [];
  // Whole seconds apart from a fixed past: MariaDB's DATETIME keeps no fraction, and the
  // list order (creation time, then id) is the order of seeding either way.
  const epoch = Date.UTC(2024, 0, 1);
  for (let first = 0; first < count; first += SEED_CHUNK) {
    stopIfInterrupted();
    const chunk = Array.from({ length: Math.min(SEED_CHUNK, count - first) }, (_, i) => ({
      uuid: randomUUID(),
      name: `bench-${first + i}`,
      user_id: USER,
      project_id: projectId,
      created_at: new Date(epoch + (first + i) * 1000),
      updated_at: null,
    }));
    await api.db.transaction().execute(async (tx) => {
      await tx.insertInto('instance_groups').values(chunk).execute();
      const ids = await tx
        .selectFrom('instance_groups')
        .select(['id', 'created_at'])
        .where(
          'uuid',
          'in',
          chunk.map((g) => g.uuid),
        )
        .execute();
      await tx
        .insertInto('instance_group_policy')
        .values(
          ids.map((row) => ({
            group_id: row.id,
            policy: 'anti-affinity',
            rules: null,
            created_at: row.created_at,
          })),
        )
        .execute();
    });
    uuids.push(...chunk.map((g) => g.uuid));
  }
  return uuids;
}

interface Cloud {
  readonly apiUrl: string;
  readonly cellUrl: string;
  readonly listUuids: readonly string[];
}

/** The API database with one mapped, synced, empty cell, and the list project's groups. */
async function prepareCloud(newDatabase: NewDatabase): Promise<Cloud> {
  const apiUrl = await newDatabase('nova_api');
  const cellUrl = await newDatabase('nova');
  let listUuids: string[] = [];
  await withDatabase(apiUrl, async (api: Database<ApiDatabase>) => {
    await syncSchema(api, 'api');
    await new CellMappings(api).create({
      name: 'cell1',
      transportUrl: 'none:///cell1',
      databaseConnection: cellUrl,
    });
    listUuids = await seedGroups(api, LIST_PROJECT, LIST_GROUPS);
  });
  await syncCellDatabase(cellUrl);
  return { apiUrl, cellUrl, listUuids };
}

// ---- the servers ----------------------------------------------------------------------

interface RunningServer {
  readonly kind: ServerKind;
  readonly port: number;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./api-server-child.js', import.meta.url));

/** Forks a server child and waits until it listens (or says why it cannot). */
function startServer(
  kind: ServerKind,
  job: ServerJob,
  cpuProfDir: string | undefined,
  label: string,
): Promise<RunningServer> {
  const execArgv = cpuProfDir
    ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${label}-${kind}.cpuprofile`]
    : [];
  const child: ChildProcess = fork(CHILD, [kind, JSON.stringify(job)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send('stop');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    child.once('message', (message: ServerMessage) => {
      if ('port' in message) resolve({ kind, port: message.port, stop });
      else reject(new Error(`the ${kind} server did not start: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`the ${kind} server exited before listening (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * The app and the bare server must give the same JSON for the same show
 * and list, or the comparison means nothing.
 */
async function checkSameAnswers(servers: readonly RunningServer[], cloud: Cloud): Promise<void> {
  const answers = await Promise.all(
    servers.map(async (server) => {
      const get = async (p: string) => {
        const response = await fetch(`http://127.0.0.1:${server.port}${p}`, {
          headers: requestHeaders(LIST_PROJECT),
        });
        if (response.status !== 200)
          throw new Error(`${server.kind}: GET ${p} answered ${response.status}`);
        return response.json();
      };
      return { list: await get(BASE), show: await get(`${BASE}/${cloud.listUuids[0] ?? ''}`) };
    }),
  );
  const [app, bare] = answers;
  if (!isDeepStrictEqual(app?.list, bare?.list) || !isDeepStrictEqual(app?.show, bare?.show)) {
    throw new Error(
      `the app and the bare server answer differently:\n  app:  ${JSON.stringify(app?.show)}\n  bare: ${JSON.stringify(bare?.show)}`,
    );
  }
  const listed = (app?.list as { server_groups?: unknown[] } | undefined)?.server_groups?.length;
  if (listed !== LIST_GROUPS)
    throw new Error(`the list answered ${listed} groups, not ${LIST_GROUPS}`);
}

// ---- load -------------------------------------------------------------------------------

function requestHeaders(projectId: string): Record<string, string> {
  return {
    'x-auth-token': `${USER}:${projectId}`,
    'openstack-api-version': `compute ${MICROVERSION}`,
    'content-type': 'application/json',
  };
}

/** One call as autocannon sends it. */
interface CallLoad {
  readonly connections: number;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly expect: number;
  readonly body?: string;
  /** Path and project of the next request; undefined when there is none left (delete's groups ran out). */
  next(): { path: string; projectId: string } | undefined;
  /** Makes sure `requests` more requests have something to act on (delete: seeds groups). */
  refill?(requests: number): Promise<void>;
}

/** One timed stretch of one call against one server. */
interface Slice {
  /** Response times, ms, in the order they came. */
  readonly latencies: number[];
  readonly seconds: number;
  /** The stretch stopped before its time because its seeded groups ran out. */
  readonly ranOut: boolean;
}

interface Measured {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The run stopped before its time because its seeded groups ran out. */
  readonly ranOut: boolean;
}

/** Drives one server with one call for `seconds`; every answer must be `expect`. */
async function drive(port: number, load: CallLoad, seconds: number): Promise<Slice> {
  const latencies: number[] = [];
  const started = performance.now();
  let unexpected: string | undefined;
  let stopped = false;
  let ranOut = false;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    // Declared first: autocannon may build a first request before it returns.
    const running: { instance?: autocannon.Instance } = {};
    const stop = (): void => {
      stopped = true;
      running.instance?.stop();
    };
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: load.connections,
        pipelining: 1,
        duration: seconds,
        headers: requestHeaders(LIST_PROJECT),
        requests: [
          {
            method: load.method,
            ...(load.body === undefined ? {} : { body: load.body }),
            setupRequest: (request) => {
              const next = load.next();
              if (next === undefined) {
                // NOTE: only one connection walks a pool (delete), so no counted request is
                // still on its way; this one may go out after the stop and is not counted.
                ranOut = true;
                stop();
                return { ...request, path: `${BASE}/${randomUUID()}` };
              }
              return { ...request, path: next.path, headers: requestHeaders(next.projectId) };
            },
          },
        ],
      },
      (error: unknown, done: autocannon.Result) => {
        interruption.signal.removeEventListener('abort', stop);
        if (error) reject(error instanceof Error ? error : new Error(describeError(error)));
        else resolve(done);
      },
    );
    running.instance = instance;
    interruption.signal.addEventListener('abort', stop);
    instance.on('response', (_client, status, _bytes, ms) => {
      if (stopped) return;
      if (status !== load.expect) unexpected ??= `answered ${status}, not ${load.expect}`;
      latencies.push(ms);
    });
  });
  const elapsed = (performance.now() - started) / 1000;
  stopIfInterrupted();
  if (result.errors > 0 || result.timeouts > 0) {
    unexpected ??= `${result.errors} connection errors, ${result.timeouts} timeouts`;
  }
  if (unexpected !== undefined) throw new Error(`${load.method} ${unexpected}`);
  return { latencies, seconds: elapsed, ranOut };
}

/** The slices of one call against one server, as one figure. */
function summarize(method: string, slices: readonly Slice[]): Measured {
  const latencies = slices.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  if (latencies.length === 0) throw new Error(`${method}: no answer in ${seconds.toFixed(1)} s`);
  return {
    requests: latencies.length,
    seconds: Math.round(seconds * 100) / 100,
    rps: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ranOut: slices.some((s) => s.ranOut),
  };
}

/** The load of `call` against one server (delete's groups are seeded by its `refill`). */
function loadFor(call: Call, kind: ServerKind, cloud: Cloud): CallLoad {
  switch (call) {
    case 'create': {
      // A project per request: the quota is counted, never reached.
      let n = 0;
      return {
        connections: 1,
        method: 'POST',
        expect: 200,
        body: JSON.stringify({
          server_group: {
            name: 'bench',
            policy: 'anti-affinity',
            rules: { max_server_per_host: 2 },
          },
        }),
        next: () => ({ path: BASE, projectId: `bench-create-${kind}-${(n += 1)}` }),
      };
    }
    case 'show': {
      let n = 0;
      const uuids = cloud.listUuids;
      return {
        connections: 4,
        method: 'GET',
        expect: 200,
        next: () => ({
          path: `${BASE}/${uuids[(n += 1) % uuids.length] ?? ''}`,
          projectId: LIST_PROJECT,
        }),
      };
    }
    case 'list':
      return {
        connections: 4,
        method: 'GET',
        expect: 200,
        next: () => ({ path: BASE, projectId: LIST_PROJECT }),
      };
    case 'delete': {
      const projectId = `bench-delete-${kind}`;
      const uuids: string[] = [];
      let n = 0;
      return {
        connections: 1,
        method: 'DELETE',
        expect: 204,
        next: () => {
          const uuid = uuids[n++];
          return uuid === undefined ? undefined : { path: `${BASE}/${uuid}`, projectId };
        },
        async refill(requests) {
          const missing = requests - (uuids.length - n);
          if (missing <= 0) return;
          uuids.push(
            ...(await withDatabase(cloud.apiUrl, (api: Database<ApiDatabase>) =>
              seedGroups(api, projectId, missing),
            )),
          );
        },
      };
    }
  }
}

// ---- one engine --------------------------------------------------------------------------

type CallFigures = Readonly<Record<ServerKind, Measured>>;

interface EngineFigures {
  readonly engine: EngineFlag;
  readonly calls: Partial<Record<Call, CallFigures>>;
}

async function runEngine(
  engine: EngineFlag,
  newDatabase: NewDatabase,
  cleanup: Cleanup,
  scratch: string,
  options: Options,
): Promise<EngineFigures> {
  const started = Date.now();
  const cloud = await prepareCloud(newDatabase);
  progress(
    `${LABEL[engine]}: databases ready in ${((Date.now() - started) / 1000).toFixed(1)} s; starting the servers`,
  );
  const job: ServerJob = { apiUrl: cloud.apiUrl, cellUrl: cloud.cellUrl, stateDir: scratch };
  const servers: RunningServer[] = [];
  // Stopped before the databases are dropped (the cleanup runs newest first).
  cleanup.add(`stop the ${LABEL[engine]} servers`, () =>
    Promise.all(servers.map((s) => s.stop())).then(() => undefined),
  );
  for (const kind of KINDS) servers.push(await startServer(kind, job, options.cpuProfDir, engine));
  await checkSameAnswers(servers, cloud);

  const calls: Partial<Record<Call, CallFigures>> = {};
  for (const call of options.calls) {
    const runs = [];
    for (const server of servers) {
      stopIfInterrupted();
      const load = loadFor(call, server.kind, cloud);
      let warm: Slice | undefined;
      if (options.warmup > 0) {
        await load.refill?.(Math.ceil(DELETE_FIRST_GUESS_RPS * options.warmup));
        warm = await drive(server.port, load, options.warmup);
      }
      runs.push({ server, load, warm, slices: [] as Slice[] });
    }
    // NOTE: the servers take turns, slice by slice, each round in the other order: the
    // machine is shared, and whatever else loads it then weighs on both alike.
    const slice = options.seconds / options.slices;
    for (let round = 0; round < options.slices; round++) {
      for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
        stopIfInterrupted();
        const seen = [...(run.warm ? [run.warm] : []), ...run.slices];
        const rate =
          seen.length === 0
            ? DELETE_FIRST_GUESS_RPS
            : Math.max(...seen.map((s) => s.latencies.length / s.seconds));
        await run.load.refill?.(
          Math.max(DELETE_MIN_REFILL, Math.ceil(rate * DELETE_HEADROOM * slice)),
        );
        run.slices.push(await drive(run.server.port, run.load, slice));
      }
    }
    const figures: Partial<Record<ServerKind, Measured>> = {};
    for (const run of runs) {
      const measured = summarize(`${call} (${run.server.kind})`, run.slices);
      figures[run.server.kind] = measured;
      progress(
        `${LABEL[engine]} ${call} ${run.server.kind}: ${Math.round(measured.rps)} req/s, ` +
          `p50 ${measured.p50Ms.toFixed(2)} ms, p99 ${measured.p99Ms.toFixed(2)} ms` +
          (measured.ranOut ? ` (its seeded groups ran out: ${measured.seconds} s timed)` : ''),
      );
    }
    if (figures.app && figures.bare) calls[call] = { app: figures.app, bare: figures.bare };
  }
  return { engine, calls };
}

// ---- reporting -------------------------------------------------------------------------

const round2 = (x: number): number => Math.round(x * 100) / 100;

function ratios(f: CallFigures): { rps: number; p50: number; p99: number } {
  return {
    rps: round2(f.app.rps / f.bare.rps),
    p50: round2(f.app.p50Ms / f.bare.p50Ms),
    p99: round2(f.app.p99Ms / f.bare.p99Ms),
  };
}

function humanReport(f: EngineFigures): string {
  const rows = CALLS.flatMap((call) => {
    const c = f.calls[call];
    if (!c) return [];
    const r = ratios(c);
    const cells = (m: Measured) => [
      Math.round(m.rps).toLocaleString('en-US'),
      m.p50Ms.toFixed(2),
      m.p99Ms.toFixed(2),
    ];
    return [
      [
        call,
        call === 'show' || call === 'list' ? '4' : '1',
        ...cells(c.app),
        ...cells(c.bare),
        `${r.rps.toFixed(2)}${r.rps < TARGET_RATIO ? ' !' : ''}`,
        r.p50.toFixed(2),
        r.p99.toFixed(2),
      ],
    ];
  });
  const list = f.calls.list;
  return [
    `${LABEL[f.engine]}:`,
    formatTable(
      [
        'call',
        'conns',
        'app req/s',
        'p50 ms',
        'p99 ms',
        'bare req/s',
        'p50 ms',
        'p99 ms',
        'req/s ×bare',
        'p50 ×bare',
        'p99 ×bare',
      ],
      rows,
    )
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    ...(list
      ? [
          `  list p99 ${list.app.p99Ms.toFixed(2)} ms (target < ${TARGET_LIST_P99_MS} ms): ${list.app.p99Ms < TARGET_LIST_P99_MS ? 'met' : 'NOT met'}`,
        ]
      : []),
  ].join('\n');
}

function measuredJson(m: Measured): Record<string, number | boolean> {
  return {
    rps: Math.round(m.rps),
    p50_ms: roundMs(m.p50Ms),
    p99_ms: roundMs(m.p99Ms),
    requests: m.requests,
    seconds: m.seconds,
    ...(m.ranOut ? { ran_out: true } : {}),
  };
}

function engineJson(f: EngineFigures): Record<string, unknown> {
  return Object.fromEntries(
    CALLS.map((call) => {
      const c = f.calls[call];
      return [
        call,
        c ? { app: measuredJson(c.app), bare: measuredJson(c.bare), ratio: ratios(c) } : null,
      ];
    }),
  );
}

/** Whether every call on every engine meets the issue's targets. */
function targetsMet(figures: readonly EngineFigures[]): { ratio: boolean; list_p99: boolean } {
  const all = figures.flatMap((f) =>
    CALLS.flatMap((call) => (f.calls[call] ? [f.calls[call]] : [])),
  );
  return {
    ratio: all.every((c) => ratios(c).rps >= TARGET_RATIO),
    list_p99: figures.every((f) => (f.calls.list?.app.p99Ms ?? 0) < TARGET_LIST_P99_MS),
  };
}

const load1 = (): number => round2(loadavg()[0] ?? 0);

// ---- the run -----------------------------------------------------------------------------

async function main(options: Options): Promise<void> {
  const cleanup = new Cleanup();
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping after the current step, then cleaning up`);
    interruption.abort(new Interrupted(signal));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const loadBefore = load1();
  try {
    // Every asked-for server must answer before anything is measured.
    for (const engine of options.engines) {
      if (engine === 'sqlite') continue;
      const url = options.serverUrls[engine] ?? '';
      const why = await unreachable(url);
      if (why !== undefined) {
        throw new Error(`${LABEL[engine]} does not answer at ${maskPassword(url)}: ${why}`);
      }
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'cgb-api-'));
    cleanup.add(`remove ${dir}`, () => {
      rmSync(dir, { recursive: true, force: true });
    });
    const figures: EngineFigures[] = [];
    for (const engine of options.engines) {
      stopIfInterrupted();
      // Each engine's databases and servers go as soon as it is measured.
      const engineCleanup = new Cleanup();
      try {
        const scratch = mkdtempSync(path.join(dir, `${engine}-`));
        const newDatabase =
          engine === 'sqlite'
            ? sqliteDatabases(scratch)
            : serverDatabases(engine, options.serverUrls[engine] ?? '', engineCleanup);
        figures.push(await runEngine(engine, newDatabase, engineCleanup, scratch, options));
      } finally {
        await engineCleanup.run();
      }
    }
    const loadAfter = load1();
    const met = targetsMet(figures);
    console.log(
      [
        `API benchmark: microversion ${MICROVERSION}, noauth2; ${options.seconds} s per call and server ` +
          `in ${options.slices} turns, alternating, after ${options.warmup} s of warm-up; app (Fastify, ` +
          'buildApp) against the bare server (node:http, same driver and queries), each in its own process',
        `  create: 1 connection, a project per request; show: 4 connections over the ${LIST_GROUPS} ` +
          `groups; list: 4 connections, ${LIST_GROUPS} groups; delete: 1 connection, seeded groups`,
        `  load average (1 min) before ${loadBefore}, after ${loadAfter} (2 cores shared by the ` +
          'servers, the load generator and the database servers)',
        '',
        ...figures.map(humanReport),
        '',
        `targets: req/s ≥ ${TARGET_RATIO} × bare on every call and engine: ${met.ratio ? 'met' : 'NOT met'}; ` +
          `list p99 < ${TARGET_LIST_P99_MS} ms: ${met.list_p99 ? 'met' : 'NOT met'}`,
      ].join('\n'),
    );
    console.log(
      JSON.stringify({
        bench: 'api',
        microversion: MICROVERSION,
        seconds: options.seconds,
        warmup: options.warmup,
        slices: options.slices,
        load_before: loadBefore,
        load_after: loadAfter,
        ...Object.fromEntries(ENGINES.map((e) => [e, null])),
        ...Object.fromEntries(figures.map((f) => [f.engine, engineJson(f)])),
        targets: { ratio_min: TARGET_RATIO, list_p99_max_ms: TARGET_LIST_P99_MS, met },
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
  if (values.help === true) console.log(USAGE);
  else await main(parseOptions(values));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof Interrupted) {
    console.error(`api benchmark ${error.message}; its databases are removed`);
    process.exitCode = error.signal === 'SIGINT' ? 130 : 143;
  } else {
    console.error('api benchmark failed:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
