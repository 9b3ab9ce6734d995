import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../src/api/process/restart-policy.js';

const options = {
  minUptimeMs: 10_000,
  windowMs: 60_000,
  maxQuickDeaths: 3,
  quickRestartDelayMs: 1_000,
};

describe('RestartPolicy', () => {
  it('replaces a worker that lived long at once, and one that died quickly after a second', () => {
    const policy = new RestartPolicy(options);
    expect(policy.onDeath(0, 3_600_000)).toEqual({ action: 'restart', delayMs: 0 });
    expect(policy.onDeath(100_000, 105_000)).toEqual({ action: 'restart', delayMs: 1_000 });
  });

  it('gives up at the third quick death within the window, naming why', () => {
    const policy = new RestartPolicy(options);
    expect(policy.onDeath(0, 1_000).action).toBe('restart');
    expect(policy.onDeath(2_000, 3_000).action).toBe('restart');
    expect(policy.onDeath(4_000, 5_000)).toEqual({
      action: 'give-up',
      reason: '3 workers died within 10 s of starting in the last 60 s',
    });
  });

  it('forgets quick deaths older than the window, and long lives never count', () => {
    const policy = new RestartPolicy(options);
    expect(policy.onDeath(0, 1_000).action).toBe('restart');
    expect(policy.onDeath(2_000, 3_000).action).toBe('restart');
    // A long-lived worker's death between them does not count.
    expect(policy.onDeath(0, 50_000).action).toBe('restart');
    // 61 s later the first two quick deaths are out of the window.
    expect(policy.onDeath(63_500, 64_000).action).toBe('restart');
    expect(policy.onDeath(64_500, 65_000).action).toBe('restart');
    expect(policy.onDeath(65_500, 66_000).action).toBe('give-up');
  });
});
