import { randomBytes } from 'node:crypto';
import { DEFAULT_POOL, engineFor } from '../src/db/dialects/index.js';
import { parseDatabaseUrl } from '../src/db/url.js';
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

/**
 * Small helpers for the benchmarks. Nothing here imports vitest: the
 * benchmarks run as plain Node programs, and test/support/engines.ts (whose
 * naming helpers are repeated below) imports vitest at run time.
 */

/**
 * Counts the statements sent through a Kysely handle it is attached to
 * (`db.withPlugin(counter)`): Kysely passes every query it compiles, raw
 * `sql` included, through `transformQuery` exactly once. BEGIN/COMMIT go
 * straight to the driver and are not counted.
 */
export class StatementCounter implements KyselyPlugin {
  count = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count += 1;
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/** Nearest-rank percentile (`p` in 0–100) of samples sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  const rank = Math.ceil((p / 100) * sorted.length);
  const value = sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
  if (value === undefined) throw new RangeError(`no sample at rank ${rank}`);
  return value;
}

/** Milliseconds rounded to microseconds, for printing and JSON. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A database name no other run uses: <prefix>_<pid>_<random hex> (as the test suites name theirs). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** The same server URL naming another database (its query options kept). */
export function serverUrlFor(serverUrl: string, database: string): string {
  const [base = '', query] = serverUrl.split('?', 2);
  const slash = base.indexOf('/', base.indexOf('://') + 3);
  return `${slash < 0 ? base : base.slice(0, slash)}/${database}${query ? `?${query}` : ''}`;
}

/**
 * Undo steps run once, newest first, whether the run succeeded, failed or
 * was interrupted: a benchmark that leaves databases behind on a shared
 * server is worse than one that fails. A failing step is reported and the
 * others still run, so one bad drop does not hide the rest (or the error
 * that got us here).
 */
export class Cleanup {
  private readonly steps: { label: string; run: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  add(label: string, run: () => Promise<void> | void): void {
    this.steps.push({ label, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(
            `cleanup: could not ${step.label}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    })();
    return this.running;
  }
}

/** Right-aligned text columns, the first column left-aligned. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A bad flag: the benchmark prints it with its usage and exits 2. */
export class UsageError extends Error {}

/**
 * Ctrl-C (or SIGTERM) does not tear anything down by itself: dropping a
 * PostgreSQL database under a live pool kills its idle connections, and
 * node-postgres turns that into an uncaught error. Instead the signal stops
 * the run at its next step; the error unwinds through every finally (handles
 * close), and only then does the cleanup drop the databases.
 */
export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}
export const interruption = new AbortController();

export function stopIfInterrupted(): void {
  interruption.signal.throwIfAborted();
}

/** A whole-number flag, at least `min`; `fallback` when absent. */
export function intOption(
  text: string | undefined,
  flag: string,
  fallback: number,
  min: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} takes a whole number of at least ${min}, not "${text}".`);
  }
  return value;
}

/**
 * A comma-separated flag naming some of `allowed` (`mysql` is read as
 * `mariadb`), in `allowed`'s order; `fallback` when the flag is absent.
 */
export function listOption<T extends string>(
  text: string | undefined,
  flag: string,
  allowed: readonly T[],
  fallback: readonly T[],
): readonly T[] {
  if (text === undefined) return fallback;
  const items = text.split(',').map((s) => (s.trim() === 'mysql' ? 'mariadb' : s.trim()));
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (items.length === 0 || bad.length > 0) {
    throw new UsageError(`${flag} takes a list of ${allowed.join(', ')}, not "${text}".`);
  }
  return allowed.filter((a) => items.includes(a));
}

/**
 * A new, uniquely named database on the server of `serverUrl`, dropped by
 * `cleanup` (registered before the create, so a create that fails half-way
 * still gets its IF EXISTS drop); returns its URL.
 */
export async function createServerDatabase(
  serverUrl: string,
  label: string,
  cleanup: Cleanup,
): Promise<string> {
  const name = uniqueName('cgb');
  const url = serverUrlFor(serverUrl, name);
  const target = parseDatabaseUrl(url);
  const engine = engineFor(target.engine);
  cleanup.add(`drop ${label} database ${name}`, () => engine.dropDatabase(target, DEFAULT_POOL));
  await engine.createDatabase(target, DEFAULT_POOL);
  return url;
}
