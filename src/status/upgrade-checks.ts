import { openDatabase, withDatabase } from '../db/connection.js';
import {
  latestVersion,
  readSchemaState,
  readSchemaVersion,
  tableNames,
} from '../db/migrations/migrator.js';
import type { ApiDatabase } from '../db/schema/api.js';
import type { CellDatabase } from '../db/schema/cell.js';
import { describeError } from '../errors.js';
import { countLiveInCell } from '../groups/cell-store.js';
import { CELL0_UUID, CellMappings, type CellMapping } from '../cells/cell-mappings.js';
import type { Cell } from '../cells/cell-pool.js';
import { DEFAULT_FAN_OUT, fanOut, type FanOutOptions } from '../cells/fan-out.js';

/**
 * The checks of `cellgroups-manage status upgrade check`, as
 * `nova-status upgrade check` (oslo.upgradecheck) runs them: each check
 * answers Success, Warning (look at it; the upgrade may be fine) or Failure
 * (do not upgrade), and says why and what to run. They only read.
 */

/** oslo.upgradecheck's `Code`; the worst code of all checks is the exit status. */
export const CheckCode = { SUCCESS: 0, WARNING: 1, FAILURE: 2 } as const;
export type CheckCode = (typeof CheckCode)[keyof typeof CheckCode];

/** oslo.upgradecheck's words for the codes. */
export const CHECK_RESULT_NAMES: Readonly<Record<CheckCode, string>> = {
  0: 'Success',
  1: 'Warning',
  2: 'Failure',
};

/** What one check found: oslo.upgradecheck's `Result(code, details)`. */
export interface CheckResult {
  readonly code: CheckCode;
  /** What is wrong and what to run, in lines separated by "\n"; null on success. */
  readonly details: string | null;
}

/** A check's result under the check's name, as the table prints it. */
export interface UpgradeCheckResult extends CheckResult {
  readonly check: string;
}

export interface UpgradeCheckOptions {
  /** `[api_database] connection`. */
  readonly apiDatabaseUrl: string;
  /** How long each cell may take to answer, and how many are asked at once. */
  readonly fanOut?: FanOutOptions;
}

/** The exit status of a run: the worst code of its checks. */
export function worstCode(results: readonly CheckResult[]): CheckCode {
  return results.reduce<CheckCode>((worst, r) => (r.code > worst ? r.code : worst), 0);
}

const MANAGE = 'cellgroups-manage';

const success: CheckResult = { code: CheckCode.SUCCESS, details: null };
const warning = (details: string): CheckResult => ({ code: CheckCode.WARNING, details });
const failure = (details: string): CheckResult => ({ code: CheckCode.FAILURE, details });

function cellLabel(cell: Pick<CellMapping, 'name' | 'uuid'>): string {
  return cell.name ? `${cell.name} (${cell.uuid})` : cell.uuid;
}

/** What one cell said, or why it could not be asked. */
type CellAnswer =
  | {
      readonly mapping: CellMapping;
      readonly ok: true;
      readonly version: number;
      readonly live: number;
      /** Nova manages the schema: cellgroups never syncs it, so it is never "behind". */
      readonly novaManaged: boolean;
    }
  | { readonly mapping: CellMapping; readonly ok: false; readonly reason: string };

/**
 * What the checks look at, read once for all of them: the API schema
 * version, the cell mappings and each cell's answer. When the API database
 * (or its cell list) cannot be read, `blocked` says why and what to do, and
 * every check that needs the cells fails with it.
 */
export type Deployment =
  | { readonly blocked: string; readonly apiVersion: number | null }
  | {
      readonly blocked: null;
      readonly apiVersion: number;
      readonly mappings: readonly CellMapping[];
      readonly cells: readonly CellAnswer[];
    };

/** One upgrade check: a name, and a function of what was read. */
export interface UpgradeCheck {
  readonly name: string;
  readonly check: (deployment: Deployment) => CheckResult;
}

/** The checks, in the order they run and print. */
export const UPGRADE_CHECKS: readonly UpgradeCheck[] = [
  { name: 'Cells v2', check: cellsV2Check },
  { name: 'API database schema', check: apiSchemaCheck },
  { name: 'Instance group migration', check: instanceGroupCheck },
  { name: 'Cell database schema', check: cellSchemaCheck },
];

/**
 * Runs every check against the API database at `apiDatabaseUrl` and every
 * mapped cell (cell0 included). A database that cannot be read fails the
 * checks that need it, with a message naming it (password masked); this
 * throws only on a programming error.
 */
export async function runUpgradeChecks(
  options: UpgradeCheckOptions,
): Promise<UpgradeCheckResult[]> {
  const deployment = await readDeployment(options);
  return UPGRADE_CHECKS.map(({ name, check }) => ({ check: name, ...check(deployment) }));
}

/** Reads what the checks need; a database that cannot be read becomes `blocked`, not an error. */
function readDeployment(options: UpgradeCheckOptions): Promise<Deployment> {
  return withDatabase<ApiDatabase, Deployment>(options.apiDatabaseUrl, async (api) => {
    // The driver's words, naming the database, as one sentence.
    const unreadable = (error: unknown) => {
      const message = describeError(error).replace(/\.$/, '');
      return message.includes(api.displayUrl)
        ? message
        : `Could not read the API database ${api.displayUrl}: ${message}`;
    };

    let apiVersion: number;
    try {
      apiVersion = await readSchemaVersion(api, 'api');
    } catch (error) {
      const blocked = `${unreadable(error)}. Check [api_database] connection and that the database answers, and then retry.`;
      return { blocked, apiVersion: null };
    }
    if (apiVersion === 0) {
      const blocked =
        `The API database ${api.displayUrl} has no schema yet. ` +
        `Run command '${MANAGE} api_db sync' and then retry.`;
      return { blocked, apiVersion };
    }

    let mappings: CellMapping[];
    try {
      mappings = await new CellMappings(api).list();
    } catch (error) {
      const blocked = `${unreadable(error)}. Check that the database answers, and then retry.`;
      return { blocked, apiVersion };
    }
    const cells = await askCells(mappings, options.fanOut ?? DEFAULT_FAN_OUT);
    return { blocked: null, apiVersion, mappings, cells };
  });
}

/** Nova's "Cells v2" check: cell0 and at least one other cell are mapped. */
function cellsV2Check(deployment: Deployment): CheckResult {
  if (deployment.blocked !== null) return failure(deployment.blocked);
  const { mappings } = deployment;
  if (mappings.length === 0) {
    return failure(
      `No cell mappings found. Run command '${MANAGE} cell_v2 simple_cell_setup' and then retry.`,
    );
  }
  if (!mappings.some((m) => m.uuid === CELL0_UUID)) {
    return failure(
      `No cell0 mapping found. Run command '${MANAGE} cell_v2 map_cell0' and then retry.`,
    );
  }
  if (mappings.length < 2) {
    return failure(
      'There needs to be at least two cell mappings, one for cell0 and one for your first cell. ' +
        `Run command '${MANAGE} cell_v2 simple_cell_setup' and then retry.`,
    );
  }
  return success;
}

/** The API database is at this program's schema version (needs only the API database). */
function apiSchemaCheck({ apiVersion, blocked }: Deployment): CheckResult {
  if (apiVersion === null) return failure(blocked ?? 'The API database could not be read.');
  const latest = latestVersion('api');
  if (apiVersion >= latest) return success;
  return failure(
    `The API database is at schema version ${apiVersion}, this cellgroups needs ${latest}: ` +
      `run '${MANAGE} api_db sync'.`,
  );
}

/**
 * Asks every cell with a database, at once (bounded) and each within the
 * timeout, for its schema version and its live legacy groups. A cell whose
 * URL cannot even be opened is reported like one that did not answer,
 * without stopping the others.
 */
async function askCells(
  mappings: readonly CellMapping[],
  options: FanOutOptions,
): Promise<CellAnswer[]> {
  const opened: Cell[] = [];
  const problems = new Map<string, string>();
  for (const mapping of mappings) {
    if (!mapping.databaseConnection) continue;
    try {
      const database = openDatabase<CellDatabase>(
        mapping.databaseConnection,
        // A connect never outlives the cell's timeout by much: closing waits for it.
        {
          pool: {
            maxConnections: 1,
            connectTimeoutMs: Math.max(100, Math.min(5_000, options.timeoutMs)),
          },
        },
      );
      opened.push({ mapping, database });
    } catch (error) {
      problems.set(mapping.uuid, describeError(error));
    }
  }
  try {
    const { answers, unavailable } = await fanOut(
      opened,
      async ({ database }) => {
        const { version, nova } = await readSchemaState(database, 'cell');
        // Counted wherever the legacy tables exist, whatever the schema marker says: a cell Nova
        // manages, or one whose marker was lost, must not pass for migrated.
        const live = (await tableNames(database)).has('instance_groups')
          ? await countLiveInCell(database.db)
          : 0;
        return { version, live, novaManaged: nova !== undefined };
      },
      options,
    );
    for (const down of unavailable) problems.set(down.uuid, down.reason);
    const values = new Map(answers.map(({ cell, value }) => [cell.mapping.uuid, value]));
    return mappings
      .filter((m) => m.databaseConnection)
      .map((mapping): CellAnswer => {
        const value = values.get(mapping.uuid);
        if (value) return { mapping, ok: true, ...value };
        return { mapping, ok: false, reason: problems.get(mapping.uuid) ?? 'no answer' };
      });
  } finally {
    await Promise.allSettled(opened.map(({ database }) => database.close()));
  }
}

const notChecked = (answer: Extract<CellAnswer, { ok: false }>) =>
  `${cellLabel(answer.mapping)} could not be checked: ${answer.reason}`;

/** Live groups still in a cell database: the online data migration has work left. */
function instanceGroupCheck(deployment: Deployment): CheckResult {
  if (deployment.blocked !== null) return failure(deployment.blocked);
  const lines: string[] = [];
  let left = 0;
  let down = 0;
  for (const answer of deployment.cells) {
    if (!answer.ok) {
      down += 1;
      lines.push(notChecked(answer));
    } else if (answer.live > 0) {
      left += 1;
      lines.push(
        `${cellLabel(answer.mapping)}: ${answer.live} instance group(s) not yet in the API database`,
      );
    }
  }
  if (left > 0) lines.push(`Run '${MANAGE} db online_data_migrations'.`);
  if (down > 0) return failure(lines.join('\n'));
  if (left > 0) return warning(lines.join('\n'));
  return success;
}

/** Cell databases behind this program's schema: `db sync` has not been run there yet. */
function cellSchemaCheck(deployment: Deployment): CheckResult {
  if (deployment.blocked !== null) return failure(deployment.blocked);
  const latest = latestVersion('cell');
  const lines: string[] = [];
  let behind = 0;
  let down = 0;
  for (const answer of deployment.cells) {
    if (!answer.ok) {
      down += 1;
      lines.push(notChecked(answer));
    } else if (answer.version < latest && !answer.novaManaged) {
      behind += 1;
      lines.push(
        `${cellLabel(answer.mapping)}: the cell database is at schema version ${answer.version}, ` +
          `this cellgroups needs ${latest}`,
      );
    }
  }
  if (behind > 0) {
    lines.push(
      `Run '${MANAGE} db sync' for each of them once '${MANAGE} db online_data_migrations' ` +
        'reports nothing left to migrate.',
    );
  }
  if (down > 0) return failure(lines.join('\n'));
  if (behind > 0) return warning(lines.join('\n'));
  return success;
}
