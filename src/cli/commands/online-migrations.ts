import { InvalidArgumentError, Option, type Command } from 'commander';
import { CellPool } from '../../cells/cell-pool.js';
import type { CellFailure, MigrationEnv } from '../../online/migration.js';
import {
  DEFAULT_BATCH,
  ONLINE_MIGRATIONS,
  runOnlineMigrations,
  type PassResult,
} from '../../online/registry.js';
import { withApiDatabase } from './api-database.js';
import { formatOption, type ActionWrapper, type CommandContext } from '../command.js';
import { renderJson, renderTable, type OutputFormat } from '../output.js';
import { createProgress } from '../progress.js';

/** nova-manage's status for a --max-count that is not a positive integer. */
const BAD_MAX_COUNT = 127;

interface Options {
  maxCount?: string;
  parallel: number;
  batchSize: number;
  format: OutputFormat;
  dryRun?: boolean;
}

const positive = (what: string) => (value: string) => {
  const n = /^\s*\d+\s*$/.test(value) ? Number.parseInt(value, 10) : NaN;
  if (!(n >= 1)) throw new InvalidArgumentError(`${what} must be a positive integer.`);
  return n;
};

/** Python's int() of the argument, or -1 as nova-manage makes of anything else. */
function parseMaxCount(value: string): number {
  return /^\s*[+-]?\d+\s*$/.test(value) ? Number.parseInt(value, 10) : -1;
}

export function registerOnlineMigrationCommand(db: Command, action: ActionWrapper): void {
  db.command('online_data_migrations')
    .description(
      'Run the online data migrations (instance groups from the cells to the API database) over every cell.',
    )
    .option('--max-count <number>', 'Maximum number of objects to consider')
    .addOption(
      new Option('--parallel <cells>', 'cells migrated at once')
        .argParser(positive('--parallel'))
        .default(4),
    )
    .addOption(
      new Option(
        '--batch-size <rows>',
        'rows per pass without --max-count (Nova: 50); on a big cloud 10000 or more is much faster',
      )
        .argParser(positive('--batch-size'))
        .default(DEFAULT_BATCH),
    )
    .option('--dry-run', 'count what each cell would migrate, and change nothing')
    .addOption(formatOption())
    .action(
      action(async (ctx, options: Options) => {
        let maxCount: number | undefined;
        if (options.maxCount !== undefined) {
          maxCount = parseMaxCount(options.maxCount);
          if (maxCount < 1) {
            ctx.out('Must supply a positive value for max_number');
            return BAD_MAX_COUNT;
          }
        }
        return withMigrationEnv(ctx, options, (env) =>
          options.dryRun ? dryRun(ctx, env, options.format) : migrate(ctx, env, options, maxCount),
        );
      }),
    );
}

function withMigrationEnv<T>(
  ctx: CommandContext,
  options: Options,
  work: (env: MigrationEnv) => Promise<T>,
): Promise<T> {
  return withApiDatabase(ctx, async (api) => {
    const cells = new CellPool(api, { mappingsTtlMs: 60_000 });
    try {
      return await work({ api, cells, parallel: options.parallel });
    } finally {
      await cells.close();
    }
  });
}

const cellLabel = (f: { cell: { name: string | null; uuid: string } }) =>
  f.cell.name ? `${f.cell.name} (${f.cell.uuid})` : f.cell.uuid;

async function migrate(
  ctx: CommandContext,
  env: MigrationEnv,
  options: Options,
  maxCount: number | undefined,
): Promise<number> {
  const json = options.format === 'json';
  // With JSON, stdout is the document alone; the running commentary goes to stderr.
  const progress = createProgress(ctx.terminal, (line) => {
    ctx.err(line);
  });
  const say = (line: string) => {
    progress.log(line, (l) => {
      if (json) ctx.err(l);
      else ctx.out(l);
    });
  };
  if (maxCount === undefined) say(`Running batches of ${options.batchSize} until complete`);

  for (const migration of ONLINE_MIGRATIONS) {
    for (const { cell, remaining } of await migration.remaining(env)) {
      progress.add(`${migration.name} ${cell.uuid}`, cell.name ?? cell.uuid, remaining);
    }
  }
  const failures: (CellFailure & { migration: string })[] = [];
  const onResult = (result: PassResult) => {
    if (result.found > 0)
      say(`${result.found} rows matched query ${result.name}, ${result.done} migrated`);
    if (result.error !== undefined || result.failures.length > 0) {
      say(`Error attempting to run ${result.name}`);
      const complain = (line: string) => {
        progress.log(line, (l) => {
          ctx.err(l);
        });
      };
      if (result.error !== undefined) complain(`  ${result.error}`);
      for (const f of result.failures) {
        complain(`  cell ${cellLabel(f)}: ${f.reason}`);
        failures.push({ ...f, migration: result.name });
      }
    }
  };
  let summary;
  let retried = 0;
  try {
    summary = await runOnlineMigrations(
      {
        ...env,
        onRetry: async (cell, error) => {
          retried++;
          await env.onRetry?.(cell, error);
        },
        onProgress: ({ migration, cell, done }) => {
          progress.advance(`${migration} ${cell.uuid}`, done);
        },
      },
      { ...(maxCount === undefined ? {} : { maxCount }), batch: options.batchSize, onResult },
    );
  } finally {
    progress.stop();
  }

  const rows = [...summary.totals.entries()].sort(([a], [b]) => a.localeCompare(b));
  if (json) {
    ctx.out(
      renderJson({
        migrations: rows.map(([name, t]) => ({
          migration: name,
          total_needed: t.found,
          completed: t.done,
        })),
        failures: failures.map((f) => ({
          migration: f.migration,
          cell_uuid: f.cell.uuid,
          cell_name: f.cell.name,
          reason: f.reason,
        })),
        exit_code: summary.exitCode,
      }),
    );
  } else {
    ctx.out(
      renderTable(
        ['Migration', 'Total Needed', 'Completed'],
        rows.map(([name, t]) => [name, t.found, t.done]),
      ),
    );
  }
  if (retried > 0) {
    // Not an error (each was run again from its start), but worth knowing on a busy cluster.
    ctx.err(
      `${retried} batch(es) were run again after a conflict (a deadlock, or a Galera certification failure).`,
    );
  }
  if (summary.exitCode === 2) say('Some migrations failed unexpectedly. Check log for details.');
  return summary.exitCode;
}

/**
 * What each cell would migrate. Exits as a run with --max-count would: 0
 * nothing to do, 1 rows to move, 2 a cell could not be counted.
 */
async function dryRun(
  ctx: CommandContext,
  env: MigrationEnv,
  format: OutputFormat,
): Promise<number> {
  const rows: {
    migration: string;
    cell_uuid: string;
    cell_name: string | null;
    remaining: number | null;
    error: string | null;
  }[] = [];
  for (const migration of ONLINE_MIGRATIONS) {
    for (const r of await migration.remaining(env)) {
      rows.push({
        migration: migration.name,
        cell_uuid: r.cell.uuid,
        cell_name: r.cell.name,
        remaining: r.remaining,
        error: r.reason ?? null,
      });
    }
  }
  if (format === 'json') {
    ctx.out(renderJson({ dry_run: true, cells: rows }));
  } else {
    ctx.out(
      renderTable(
        ['Migration', 'Cell', 'Name', 'Rows To Migrate'],
        rows.map((r) => [
          r.migration,
          r.cell_uuid,
          r.cell_name,
          r.remaining ?? `unavailable: ${r.error ?? ''}`,
        ]),
      ),
    );
  }
  if (rows.some((r) => r.remaining === null)) return 2;
  return rows.some((r) => (r.remaining ?? 0) > 0) ? 1 : 0;
}
