import type { ExpressionBuilder } from 'kysely';
import type { Database } from '../db/connection.js';
import { columnNames } from '../db/migrations/migrator.js';
import type { CellDatabase } from '../db/schema/cell.js';
import type { Cell } from './cell.js';
import { fanOut, type FanOutOptions, type UnavailableCell } from './fan-out.js';

/**
 * Which of the columns of `instances` added by cell schema 3
 * (db/migrations/cell/003-instance-usage.ts) a cell database has. Every cell
 * Nova made has them; one cellgroups made has them once synced past the
 * blocker, so a cell still holding legacy groups does not.
 */
export interface InstanceColumns {
  /** `vcpus` and `memory_mb`: cores and RAM in use can be counted. */
  readonly usage: boolean;
  /** `hidden`: the copy a cross-cell resize leaves behind can be told apart. */
  readonly hidden: boolean;
}

const COMPLETE: InstanceColumns = { usage: true, hidden: true };

/**
 * The instance columns of each cell database, read once per database handle
 * while complete (schemas only go forward, and no step drops them), and read
 * again after `ttlMs` while some are missing (a sync may add them any time).
 */
export class InstanceColumnsKnown {
  private readonly known = new Map<
    Database<CellDatabase>,
    { readonly columns: InstanceColumns; readonly at: number }
  >();

  constructor(private readonly ttlMs: number) {}

  async of(cell: Cell): Promise<InstanceColumns> {
    const entry = this.known.get(cell.database);
    if (entry && (isComplete(entry.columns) || Date.now() - entry.at <= this.ttlMs)) {
      return entry.columns;
    }
    const names = await columnNames(cell.database, 'instances');
    const columns: InstanceColumns = {
      usage: names.has('vcpus') && names.has('memory_mb'),
      hidden: names.has('hidden'),
    };
    this.known.set(cell.database, {
      columns: isComplete(columns) ? COMPLETE : columns,
      at: Date.now(),
    });
    return columns;
  }

  forget(): void {
    this.known.clear();
  }
}

const isComplete = (columns: InstanceColumns) => columns.usage && columns.hidden;

/**
 * Nova's live instance, as its instance queries and quota counts filter
 * them: not deleted, not soft-deleted (`vm_state`, which may be NULL), and
 * not a hidden copy (`hidden` false or, on rows older than the column, NULL).
 */
export function liveInstance(columns: InstanceColumns) {
  return (eb: ExpressionBuilder<CellDatabase, 'instances'>) =>
    eb.and([
      eb('deleted', '=', 0),
      eb.or([eb('vm_state', 'is', null), eb('vm_state', '!=', SOFT_DELETED)]),
      ...(columns.hidden ? [eb.or([eb('hidden', '=', false), eb('hidden', 'is', null)])] : []),
    ]);
}

/** Nova's vm_states.SOFT_DELETED. */
const SOFT_DELETED = 'soft-delete';

/** Instances, cores and RAM (MiB) in use. */
export interface InstanceUsage {
  readonly instances: number;
  readonly cores: number;
  readonly ram: number;
}

export interface InstanceUsageCount {
  readonly project: InstanceUsage;
  /** Only when a user was asked for. */
  readonly user?: InstanceUsage;
  /** Cells that did not answer: none of their instances is counted. */
  readonly unavailable: UnavailableCell[];
  /**
   * Cells whose instances have no `vcpus`/`memory_mb` yet and that hold
   * instances of the project: counted, but not their cores and RAM.
   */
  readonly withoutUsageColumns: UnavailableCell[];
}

const ZERO: InstanceUsage = { instances: 0, cores: 0, ram: 0 };

const plus = (a: InstanceUsage, b: InstanceUsage): InstanceUsage => ({
  instances: a.instances + b.instances,
  cores: a.cores + b.cores,
  ram: a.ram + b.ram,
});

/** What the drivers hand back for a count or a sum: a number, a numeric string, or NULL over no rows. */
const toNumber = (value: unknown): number => Number(value ?? 0);

/**
 * The instances, cores and RAM of a project (and of one user in it) over
 * every cell, cell0 included, as Nova counts them when usage is not taken
 * from placement (`_instances_cores_ram_count_legacy`): live instances of
 * the project, one statement per cell, the cells asked in parallel. A cell
 * that does not answer is left out, as Nova leaves it out, and reported.
 */
export async function countInstanceUsage(
  cells: readonly Cell[],
  columnsOf: (cell: Cell) => Promise<InstanceColumns>,
  fan: FanOutOptions,
  owner: { readonly projectId: string; readonly userId?: string | undefined },
): Promise<InstanceUsageCount> {
  const { userId } = owner;
  const { answers, unavailable } = await fanOut(
    cells,
    async (cell) => {
      const columns = await columnsOf(cell);
      const row = await cell.database.db
        .selectFrom('instances')
        .select((eb) => {
          const mine = userId === undefined ? eb.lit(false) : eb('user_id', '=', userId);
          const sumOf = (column: 'vcpus' | 'memory_mb') =>
            columns.usage ? eb.fn.sum(column) : eb.lit(0);
          const sumOfMine = (value: 'vcpus' | 'memory_mb' | 1) =>
            eb.fn.sum(
              eb
                .case()
                .when(mine)
                .then(value === 1 ? eb.lit(1) : columns.usage ? eb.ref(value) : eb.lit(0))
                .else(eb.lit(0))
                .end(),
            );
          return [
            eb.fn.countAll().as('instances'),
            sumOf('vcpus').as('cores'),
            sumOf('memory_mb').as('ram'),
            sumOfMine(1).as('user_instances'),
            sumOfMine('vcpus').as('user_cores'),
            sumOfMine('memory_mb').as('user_ram'),
          ];
        })
        .where('project_id', '=', owner.projectId)
        .where(liveInstance(columns))
        .executeTakeFirstOrThrow();
      return {
        columns,
        project: {
          instances: toNumber(row.instances),
          cores: toNumber(row.cores),
          ram: toNumber(row.ram),
        },
        user: {
          instances: toNumber(row.user_instances),
          cores: toNumber(row.user_cores),
          ram: toNumber(row.user_ram),
        },
      };
    },
    fan,
  );
  let project = ZERO;
  let user = ZERO;
  const withoutUsageColumns: UnavailableCell[] = [];
  for (const { cell, value } of answers) {
    project = plus(project, value.project);
    user = plus(user, value.user);
    // Without instances of the project there, no cores or RAM were missed.
    if (!value.columns.usage && value.project.instances > 0) {
      withoutUsageColumns.push({
        uuid: cell.mapping.uuid,
        name: cell.mapping.name,
        reason:
          'its instances have no vcpus and memory_mb columns yet: their cores and RAM are not ' +
          'counted until the cell is synced ("db sync") once its groups are moved',
      });
    }
  }
  return {
    project,
    ...(userId === undefined ? {} : { user }),
    unavailable,
    withoutUsageColumns,
  };
}
