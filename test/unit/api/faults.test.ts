import { describe, expect, it } from 'vitest';
import { faultFor } from '../../../src/api/http/faults.js';
import { exitCodeFor, EXIT } from '../../../src/cli/exit-codes.js';
import { LockTimeout } from '../../../src/errors.js';

describe('a lock wait that gave up', () => {
  const error = new LockTimeout('Instance group g is locked in cell cell1; try again.');

  it('is a 409 conflictingRequest fault with its message, which a client may retry', () => {
    expect(faultFor(error)).toEqual({
      code: 409,
      key: 'conflictingRequest',
      message: 'Instance group g is locked in cell cell1; try again.',
    });
  });

  it('is a failed command in the CLI, not an unexpected error', () => {
    expect(error.code).toBe('LOCK_TIMEOUT');
    expect(exitCodeFor(error)).toBe(EXIT.FAILED);
  });
});
