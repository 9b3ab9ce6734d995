/**
 * Writes legacy server groups into a cell database at the legacy schema
 * (the local cell, or a cell "legacy" made beside it; see legacyCell), as
 * a cell database from before the move held them: two
 * policy rows each, and members with a duplicate row. For the README
 * walkthrough: seed, list, migrate, list again.
 *
 *   npm run seed:legacy -- --groups 5 [--config-file nova.conf]
 *
 * The new groups' uuids go to stdout, one a line; the rest to stderr.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CellMappings } from '../src/cells/cell-mappings.js';
import { loadConfig, type Config } from '../src/config/load.js';
import { openDatabase, type Database } from '../src/db/connection.js';
import { DEFAULT_POOL, engineFor } from '../src/db/dialects/index.js';
import { LEGACY_GROUPS_VERSION } from '../src/db/migrations/cell/002-instance-groups-moved.js';
import { readSchemaVersion, syncSchema } from '../src/db/migrations/migrator.js';
import type { ApiDatabase } from '../src/db/schema/api.js';
import type { CellDatabase } from '../src/db/schema/cell.js';
import { parseDatabaseUrl, type DatabaseTarget } from '../src/db/url.js';
import { CellgroupsError, describeError } from '../src/errors.js';
import { writeLegacyGroups, type LegacyGroupRows } from './legacy-rows.js';

const USAGE = `Usage: npm run seed:legacy -- [options]

  --groups N           legacy groups to write (default 5)
  --project ID         their project (default p1)
  --user ID            their user (default u1)
  --config-file PATH   configuration file (repeatable; later files win); the groups go
                       into its local cell database, [database] connection
                       (default: ./data/nova.sqlite, as \`npm start\` creates it), while
                       that is at the legacy schema (1); past it, into a cell "legacy"
                       at schema 1 beside it, made and mapped on first use`;

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

/** The name of the cell seed:legacy maps when the local cell is already past the move. */
const LEGACY_CELL = 'legacy';

/**
 * The cell database the legacy groups go into: the local cell while it is
 * at the legacy schema (as in an old deployment), or else a cell named
 * `legacy` at that schema, made and mapped here, beside the local cell. A
 * cell past the blocker migration holds no live group, and cellgroups no
 * longer looks for groups there; writing legacy rows into one would show
 * a state no real cloud can be in.
 */
async function legacyCell(config: Config): Promise<Database<CellDatabase>> {
  const local = openDatabase<CellDatabase>(config.cellDatabaseUrl, { pool: { maxConnections: 1 } });
  // Opening a missing SQLite file would create an empty one; say what to run instead.
  const { target } = local;
  if (target.engine === 'sqlite' && target.filename !== ':memory:') {
    if (!existsSync(target.filename)) throw notReady(local.displayUrl);
  }
  const version = await readSchemaVersion(local, 'cell');
  if (version === 0) throw notReady(local.displayUrl);
  if (version <= LEGACY_GROUPS_VERSION) return local;
  await local.close();

  const api = openDatabase<ApiDatabase>(config.apiDatabaseUrl, { pool: { maxConnections: 1 } });
  try {
    const registry = new CellMappings(api);
    const mapped = (await registry.list()).find((c) => c.name === LEGACY_CELL);
    const url = mapped?.databaseConnection ?? (await createBeside(target, config.cellDatabaseUrl));
    const cell = openDatabase<CellDatabase>(url, { pool: { maxConnections: 1 } });
    if ((await readSchemaVersion(cell, 'cell')) === 0) {
      await syncSchema(cell, 'cell', LEGACY_GROUPS_VERSION);
    }
    if (!mapped) {
      await registry.create({
        name: LEGACY_CELL,
        transportUrl: `none:///${LEGACY_CELL}`,
        databaseConnection: url,
      });
      console.error(
        `note: the local cell is at schema version ${version}: its groups have moved, as in any new ` +
          `deployment. Made cell "${LEGACY_CELL}" at schema version ${LEGACY_GROUPS_VERSION}, as an ` +
          `older cell would be, at ${cell.displayUrl}, and mapped it.`,
      );
    }
    return cell;
  } finally {
    await api.close();
  }
}

/** A new database next to the local cell's: `nova_legacy.sqlite` in its directory, or `<db>_legacy` on its server. */
async function createBeside(target: DatabaseTarget, localUrl: string): Promise<string> {
  if (target.engine === 'sqlite') {
    if (target.filename === ':memory:') {
      throw new UsageError('The local cell is an in-memory SQLite database; name a file instead.');
    }
    return `sqlite:///${path.join(path.dirname(path.resolve(target.filename)), 'nova_legacy.sqlite')}`;
  }
  const [base = '', query] = localUrl.split('?', 2);
  const url = `${base.replace(/\/[^/]*$/, '')}/${target.database}_legacy${query ? `?${query}` : ''}`;
  const legacy = parseDatabaseUrl(url);
  await engineFor(legacy.engine).createDatabase(legacy, DEFAULT_POOL);
  return url;
}

async function main(options: Options): Promise<void> {
  const config = loadConfig({ files: options.configFiles });
  const cell = await legacyCell(config);
  try {
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
