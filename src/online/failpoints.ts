/**
 * Named points of the online migration's protocol where a test may crash
 * the process for real: `CELLGROUPS_FAILPOINT=after-api-commit` (or
 * `after-api-commit:3`, the third time it is reached) makes the process
 * SIGKILL itself there. No handler runs and no transaction is rolled back
 * politely: the servers see a dropped connection, as after a power cut.
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

function parse(spec: string | undefined): { point: string; hit: number } | undefined {
  if (!spec) return undefined;
  const [point = '', hit = '1'] = spec.split(':');
  return { point, hit: Math.max(1, Number.parseInt(hit, 10) || 1) };
}

const armed = parse(process.env.CELLGROUPS_FAILPOINT);
let hits = 0;

export function failpoint(point: Failpoint): void {
  if (armed?.point !== point) return;
  if (++hits === armed.hit) process.kill(process.pid, 'SIGKILL');
}
