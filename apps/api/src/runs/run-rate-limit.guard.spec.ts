import { RateLimiterRes, type RateLimiterPostgres } from 'rate-limiter-flexible';
import { ReservingLimiter } from './run-rate-limit.guard.js';

/** The shared counter as rate-limiter-flexible keeps it: a rejected consume still adds its points. */
class FakeStore {
  consumed = new Map<string, number>();
  calls = 0;
  constructor(private readonly points: number) {}
  async consume(key: string, n = 1): Promise<RateLimiterRes> {
    this.calls++;
    await new Promise((r) => setImmediate(r));
    const total = (this.consumed.get(key) ?? 0) + n;
    this.consumed.set(key, total);
    const res = new RateLimiterRes(Math.max(0, this.points - total), 60_000, total, false);
    if (total > this.points) throw res;
    return res;
  }
}

const limiter = (store: FakeStore, points: number) => new ReservingLimiter(store as unknown as RateLimiterPostgres, points);

async function grantedOf(l: ReservingLimiter, key: string, tries: number): Promise<number> {
  const results = await Promise.allSettled(Array.from({ length: tries }, () => l.consume(key)));
  for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof RateLimiterRes)) throw r.reason;
  return results.filter((r) => r.status === 'fulfilled').length;
}

describe('ReservingLimiter (run creation limit in blocks)', () => {
  it('grants exactly the limit, in blocks, however many ask at once', async () => {
    const store = new FakeStore(600);
    const l = limiter(store, 600);
    expect(await grantedOf(l, 'org', 700)).toBe(600);
    expect(store.calls).toBeLessThanOrEqual(600 / 12 + 2); // blocks of 12, not one upsert per run
    await expect(l.consume('org')).rejects.toBeInstanceOf(RateLimiterRes);
  });

  it('shares the limit across instances and never exceeds it', async () => {
    const store = new FakeStore(100);
    const a = limiter(store, 100);
    const b = limiter(store, 100);
    const [fromA, fromB] = await Promise.all([grantedOf(a, 'org', 80), grantedOf(b, 'org', 80)]);
    expect(fromA + fromB).toBeLessThanOrEqual(100);
    expect(fromA + fromB).toBeGreaterThanOrEqual(100 - 2 * 2); // at most a block each left unused (block: 2)
  });

  it('counts one by one for small limits, and keeps organizations apart', async () => {
    const store = new FakeStore(3);
    const l = limiter(store, 3);
    expect(await grantedOf(l, 'a', 5)).toBe(3);
    expect(await grantedOf(l, 'b', 2)).toBe(2);
    const rejection = await l.consume('a').catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(RateLimiterRes);
    expect((rejection as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);
  });
});
