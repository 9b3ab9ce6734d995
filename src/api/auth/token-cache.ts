import { createHash } from 'node:crypto';
import type { TokenInfo } from './identity.js';

/**
 * Validations Keystone gave recently, so that a client's every request does
 * not cost a round trip (keystonemiddleware's in-process cache). Only valid
 * tokens are kept, under a hash of the token (a heap dump shows no tokens),
 * each for `ttlMs` at most and never past the token's own expiry. A revoked
 * token therefore works until its entry runs out: that is the price of the
 * cache, and why `token_cache_time` is short.
 */
export class TokenCache {
  private readonly entries = new Map<string, { info: TokenInfo; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** Bound on memory: past it the oldest entries go first. */
    private readonly maxEntries = 10_000,
  ) {}

  get(token: string): TokenInfo | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.info;
  }

  set(token: string, info: TokenInfo): void {
    if (this.ttlMs <= 0) return;
    const key = keyOf(token);
    this.entries.delete(key);
    this.entries.set(key, { info, until: Math.min(this.now() + this.ttlMs, info.expiresAt) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}

function keyOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
