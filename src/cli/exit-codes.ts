import { CellgroupsError } from '../errors.js';

/**
 * Exit statuses, as nova-manage's. Commands whose codes carry meaning
 * (delete_cell's 1-4, online_data_migrations' 0/1/2/127) return them as
 * results; this maps only the errors that escape a command.
 */
export const EXIT = {
  OK: 0,
  /** The request could not be done: bad configuration, missing cell, refused schema step. */
  FAILED: 1,
  /** The command line itself is wrong (argparse's status). */
  USAGE: 2,
  /** Anything unexpected: nova-manage's "An error has occurred". */
  UNEXPECTED: 255,
} as const;

export function exitCodeFor(error: unknown): number {
  return error instanceof CellgroupsError ? EXIT.FAILED : EXIT.UNEXPECTED;
}
