import { describe, expect, it } from 'vitest';
import { identityV3Url, type TokenInfo } from '../../../src/api/auth/identity.js';
import { TokenCache } from '../../../src/api/auth/token-cache.js';

const info = (expiresAt: number): TokenInfo => ({
  userId: 'u',
  projectId: 'p',
  roles: ['member'],
  expiresAt,
});

describe('TokenCache', () => {
  it('keeps a validation for its time to live, then forgets it', () => {
    let now = 1_000;
    const cache = new TokenCache(60_000, () => now);
    cache.set('t', info(10_000_000));
    now += 59_999;
    expect(cache.get('t')).toEqual(info(10_000_000));
    now += 1;
    expect(cache.get('t')).toBeUndefined();
  });

  it('never keeps a validation past the token expiry', () => {
    let now = 0;
    const cache = new TokenCache(60_000, () => now);
    cache.set('t', info(5_000));
    now = 5_000;
    expect(cache.get('t')).toBeUndefined();
  });

  it('keeps nothing when caching is off (0 or -1)', () => {
    for (const ttl of [0, -1000]) {
      const cache = new TokenCache(ttl, () => 0);
      cache.set('t', info(10_000));
      expect(cache.get('t')).toBeUndefined();
    }
  });

  it('drops the oldest entries past its bound', () => {
    const cache = new TokenCache(60_000, () => 0, 2);
    cache.set('a', info(10_000));
    cache.set('b', info(10_000));
    cache.set('c', info(10_000));
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map(Boolean)).toEqual([
      false,
      true,
      true,
    ]);
  });
});

describe('identityV3Url', () => {
  it('accepts auth_url with or without /v3, as keystoneauth does', () => {
    for (const url of [
      'http://k:5000',
      'http://k:5000/',
      'http://k:5000/v3',
      'http://k:5000/v3/',
    ]) {
      expect(identityV3Url(url)).toBe('http://k:5000/v3');
    }
    expect(identityV3Url('https://k.example/identity')).toBe('https://k.example/identity/v3');
  });
});
