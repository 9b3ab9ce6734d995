/**
 * Named points of the online migration's protocol where a test can make
 * things go wrong for real.
 *
 * `CELLGROUPS_FAILPOINT=after-api-commit` (or `after-api-commit:3`, the
 * third time it is reached) makes the process SIGKILL itself there: no
 * handler runs and no transaction is rolled back politely; the servers see
 * a dropped connection, as after a power cut.
 *
 * `armFailpoint('before-cell-commit', { conflict: 1 })` (in-process tests)
 * makes the first pass there throw a `SimulatedConflict`, which the
 * migration treats as the deadlock a multi-writer cluster reports when
 * another node won a conflicting write: its transaction is rolled back and
 * retried.
 *
 * Unset (always, outside tests), a failpoint costs one comparison.
 */
export const FAILPOINTS = [
  /** The batch's cell rows are locked and read; nothing is written yet. */
  'after-cell-lock',
  /** The copies are inserted in the API database, not committed. */
  'before-api-commit',
  /** The API database has the copies; the cell copies are still live. */
  'after-api-commit',
  /** The cell copies are soft-deleted, not committed. */
  'before-cell-commit',
  /** The batch is done on both sides. */
  'after-cell-commit',
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/** The conflict a Galera node reports at commit (error 1213), simulated. */
export class SimulatedConflict extends Error {
  constructor(point: Failpoint) {
    super(`simulated write conflict at ${point}`);
  }
}

interface Armed {
  readonly point: string;
  readonly hit: number;
  readonly action: 'kill' | 'conflict';
  seen: number;
}

function fromEnvironment(spec: string | undefined): Armed | undefined {
  if (!spec) return undefined;
  const [point = '', hit = '1'] = spec.split(':');
  return { point, hit: Math.max(1, Number.parseInt(hit, 10) || 1), action: 'kill', seen: 0 };
}

let armed = fromEnvironment(process.env.CELLGROUPS_FAILPOINT);

/** Arms (or with `undefined`, disarms) a failpoint in this process. */
export function armFailpoint(
  point: Failpoint | undefined,
  options: { conflict: number } = { conflict: 1 },
): void {
  armed =
    point === undefined ? undefined : { point, hit: options.conflict, action: 'conflict', seen: 0 };
}

export function failpoint(point: Failpoint): void {
  if (armed?.point !== point) return;
  if (++armed.seen !== armed.hit) return;
  if (armed.action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new SimulatedConflict(point);
}
