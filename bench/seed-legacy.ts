/**
 * Writes legacy server groups into the local cell database of a
 * configuration, as a cell database from before the move held them: two
 * policy rows each, and members with a duplicate row. For the README
 * walkthrough: seed, list, migrate, list again.
 *
 *   npm run seed:legacy -- --groups 5 [--config-file nova.conf]
 *
 * The new groups' uuids go to stdout, one a line; the rest to stderr.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { openDatabase } from '../src/db/connection.js';
import { LEGACY_GROUPS_VERSION } from '../src/db/migrations/cell/002-instance-groups-moved.js';
import { readSchemaVersion } from '../src/db/migrations/migrator.js';
import type { CellDatabase } from '../src/db/schema/cell.js';
import { CellgroupsError, describeError } from '../src/errors.js';
import { writeLegacyGroups, type LegacyGroupRows } from './legacy-rows.js';

const USAGE = `Usage: npm run seed:legacy -- [options]

  --groups N           legacy groups to write (default 5)
  --project ID         their project (default p1)
  --user ID            their user (default u1)
  --config-file PATH   configuration file (repeatable; later files win); the groups go
                       into its local cell database, [database] connection
                       (default: ./data/nova.sqlite, as \`npm start\` creates it)`;

/** Members per group; the first is written twice, as old Nova could leave it. */
const MEMBERS = 3;
const POLICIES = ['anti-affinity', 'affinity'] as const;

class UsageError extends Error {}

interface Options {
  readonly groups: number;
  readonly project: string;
  readonly user: string;
  readonly configFiles: readonly string[];
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        groups: { type: 'string' },
        project: { type: 'string' },
        user: { type: 'string' },
        'config-file': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(describeError(error));
  }
  if (values.help === true) return 'help';
  const text = values.groups ?? '5';
  const groups = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(groups) || groups < 1) {
    throw new UsageError(`--groups takes a whole number of at least 1, not "${text}".`);
  }
  return {
    groups,
    project: values.project ?? 'p1',
    user: values.user ?? 'u1',
    configFiles: values['config-file'] ?? [],
  };
}

/** Thrown for a cell database that is not ready: the message says what to run. */
class NotReady extends Error {}

const notReady = (url: string) =>
  new NotReady(
    `The cell database ${url} has no schema yet. Run \`npm start\` (first start: creates ./data and ` +
      'syncs everything) or `cellgroups-manage db sync 1` first.',
  );

async function main(options: Options): Promise<void> {
  const config = loadConfig({ files: options.configFiles });
  const cell = openDatabase<CellDatabase>(config.cellDatabaseUrl, { pool: { maxConnections: 1 } });
  try {
    // Opening a missing SQLite file would create an empty one; say what to run instead.
    const { target } = cell;
    if (target.engine === 'sqlite' && target.filename !== ':memory:') {
      if (!existsSync(target.filename)) throw notReady(cell.displayUrl);
    }
    const version = await readSchemaVersion(cell, 'cell');
    if (version === 0) throw notReady(cell.displayUrl);
    if (version > LEGACY_GROUPS_VERSION) {
      console.error(
        `note: the cell schema is at version ${version}, which assumes its groups have moved; ` +
          'these legacy rows are for trying the online migration ' +
          '(`cellgroups-manage db online_data_migrations` moves them).',
      );
    }

    const db = cell.db;
    const existing = await db
      .selectFrom('instance_groups')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    const first = Number(existing.n) + 1;
    const now = Date.now();
    const groups: LegacyGroupRows[] = Array.from({ length: options.groups }, (_, i) => {
      const members = Array.from({ length: MEMBERS }, () => randomUUID());
      return {
        uuid: randomUUID(),
        name: `legacy-${first + i}`,
        projectId: options.project,
        userId: options.user,
        policies: [...POLICIES],
        members: [...members, ...members.slice(0, 1)],
        // A second apart, so that they list in the order written.
        createdAt: new Date(now - (options.groups - i) * 1000),
      };
    });
    await db.transaction().execute((tx) => writeLegacyGroups(tx, cell.engine, groups));

    console.error(
      `${groups.length} legacy group(s) written to ${cell.displayUrl} (project ${options.project}, ` +
        `user ${options.user}; policies ${POLICIES.join(', ')}; ${MEMBERS} members, one of them twice):`,
    );
    for (const g of groups) console.log(g.uuid);
  } finally {
    await cell.close();
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
  } else if (error instanceof NotReady || error instanceof CellgroupsError) {
    console.error(error.message);
    process.exitCode = 1;
  } else {
    console.error(`seed:legacy failed: ${describeError(error)}`);
    process.exitCode = 1;
  }
}
