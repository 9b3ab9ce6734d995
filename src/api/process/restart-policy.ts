/**
 * When the API's primary process replaces a worker that died, and when it
 * stops trying. oslo.service (what runs nova-api's workers) restarts a dead
 * child forever, sleeping a second when children die "too fast"; a worker
 * that cannot live (a bad option, a broken database driver) then loops
 * until someone notices. Here quick deaths are counted and, past a few in a
 * short window, the primary gives up and exits non-zero with the reason.
 */
export interface RestartPolicyOptions {
  /** A worker that dies sooner than this after it was started died "quickly". */
  readonly minUptimeMs: number;
  /** Quick deaths are counted over this sliding window. */
  readonly windowMs: number;
  /** This many quick deaths within the window: give up. */
  readonly maxQuickDeaths: number;
  /** Wait before replacing a worker that died quickly (oslo.service: one second). */
  readonly quickRestartDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  minUptimeMs: 10_000,
  windowMs: 60_000,
  maxQuickDeaths: 3,
  quickRestartDelayMs: 1_000,
};

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number }
  | { readonly action: 'give-up'; readonly reason: string };

export class RestartPolicy {
  private readonly quickDeaths: number[] = [];

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /** A worker started at `startedAt` died at `now`: replace it (after how long), or give up. */
  onDeath(startedAt: number, now: number): RestartDecision {
    const { minUptimeMs, windowMs, maxQuickDeaths, quickRestartDelayMs } = this.options;
    if (now - startedAt >= minUptimeMs) return { action: 'restart', delayMs: 0 };
    this.quickDeaths.push(now);
    while (this.quickDeaths.length > 0 && (this.quickDeaths[0] ?? now) <= now - windowMs) {
      this.quickDeaths.shift();
    }
    if (this.quickDeaths.length >= maxQuickDeaths) {
      return {
        action: 'give-up',
        reason: `${this.quickDeaths.length} workers died within ${seconds(minUptimeMs)} of starting in the last ${seconds(windowMs)}`,
      };
    }
    return { action: 'restart', delayMs: quickRestartDelayMs };
  }
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}
