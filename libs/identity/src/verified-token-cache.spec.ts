import { VerifiedTokenCache } from './verified-token-cache.js';

describe('VerifiedTokenCache', () => {
  const now = 1_800_000_000_000;
  const claims = (expSec: number | undefined) => ({ sub: 'u', exp: expSec });

  it('answers only for the exact token that was stored, until it expires', () => {
    const cache = new VerifiedTokenCache<{ sub: string; exp?: number }>();
    cache.set('a.b.c', claims(now / 1000 + 60));
    expect(cache.get('a.b.c', now)).toEqual({ sub: 'u', exp: now / 1000 + 60 });
    expect(cache.get('a.b.d', now)).toBeUndefined();
    expect(cache.get('a.b.c', now + 60_000)).toBeUndefined();
    // an expired entry is gone, even if the clock were to go back
    expect(cache.get('a.b.c', now)).toBeUndefined();
  });

  it('keeps no token without an expiry and drops the oldest beyond its bound', () => {
    const cache = new VerifiedTokenCache<{ sub: string; exp?: number }>(2);
    cache.set('forever', claims(undefined));
    expect(cache.get('forever', now)).toBeUndefined();
    cache.set('t1', claims(now / 1000 + 60));
    cache.set('t2', claims(now / 1000 + 60));
    cache.set('t3', claims(now / 1000 + 60));
    expect(cache.get('t1', now)).toBeUndefined();
    expect(cache.get('t2', now)).toBeDefined();
    expect(cache.get('t3', now)).toBeDefined();
  });
});
