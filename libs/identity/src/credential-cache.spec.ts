import { CredentialCache } from './credential-cache.js';

describe('CredentialCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  function counted<V>(values: V[]): { load: () => Promise<V>; calls: () => number } {
    let calls = 0;
    return { load: () => Promise.resolve(values[Math.min(calls++, values.length - 1)]), calls: () => calls };
  }

  it('reuses a read within the TTL and reads again after it (a change made elsewhere applies within the TTL)', async () => {
    const cache = new CredentialCache<string>(2000, 10, clock);
    const row = counted(['enabled', 'disabled']);
    expect(await cache.get('u', row.load)).toBe('enabled');
    now += 1999;
    expect(await cache.get('u', row.load)).toBe('enabled');
    now += 1;
    expect(await cache.get('u', row.load)).toBe('disabled');
    expect(row.calls()).toBe(2);
  });

  it('shares one read between concurrent misses', async () => {
    const cache = new CredentialCache<string>(2000, 10, clock);
    const row = counted(['a']);
    expect(await Promise.all([cache.get('u', row.load), cache.get('u', row.load), cache.get('u', row.load)])).toEqual(['a', 'a', 'a']);
    expect(row.calls()).toBe(1);
  });

  it('forgets an entry, the entries tagged with its key, and reads in flight', async () => {
    const cache = new CredentialCache<string>(2000, 10, clock);
    const user = counted(['user v1', 'user v2']);
    const key = counted(['key v1', 'key v2']);
    const other = counted(['other v1', 'other v2']);
    await cache.get('user:1', user.load);
    await cache.get('key:9', key.load, () => ['user:1']);
    await cache.get('other', other.load, () => ['user:2']);
    let release: (v: string) => void = () => undefined;
    const pending = cache.get(
      'late',
      () => new Promise<string>((r) => (release = r)),
      () => [],
    );
    cache.forget('user:1');
    release('late v1');
    await pending;
    expect(await cache.get('user:1', user.load)).toBe('user v2');
    expect(await cache.get('key:9', key.load)).toBe('key v2');
    expect(await cache.get('other', other.load)).toBe('other v1');
    expect(await cache.get('late', () => Promise.resolve('late v2'))).toBe('late v2');
  });

  it('keeps no failed read', async () => {
    const cache = new CredentialCache<string>(2000, 10, clock);
    await expect(cache.get('u', () => Promise.reject(new Error('connection lost')))).rejects.toThrow('connection lost');
    expect(await cache.get('u', () => Promise.resolve('ok'))).toBe('ok');
  });

  it('reads on every call with a TTL of 0', async () => {
    const cache = new CredentialCache<string>(0, 10, clock);
    const row = counted(['a', 'b']);
    expect(await cache.get('u', row.load)).toBe('a');
    expect(await cache.get('u', row.load)).toBe('b');
  });

  it('drops the oldest entry beyond its bound', async () => {
    const cache = new CredentialCache<string>(2000, 2, clock);
    const first = counted(['1a', '1b']);
    await cache.get('1', first.load);
    await cache.get('2', () => Promise.resolve('2'));
    await cache.get('3', () => Promise.resolve('3'));
    expect(await cache.get('1', first.load)).toBe('1b');
  });
});
