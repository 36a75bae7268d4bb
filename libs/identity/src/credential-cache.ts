/**
 * The rows authentication reads (a token's user, an API key), kept for a short time so a client's every request does
 * not read the same row again: that read was a round trip and about 0.3 ms of database CPU per request, as much as
 * the rest of authentication. Staleness is bounded: an entry is reused for at most `ttlMs` after the read began, and
 * a change made through this process (a user disabled or given another role, a key revoked) drops the entries it
 * affects at once (`forget`), so only changes made elsewhere (another instance, the CLI, SQL) wait out the TTL.
 *
 * Concurrent misses for one key share one read. A failed read is not kept. `ttlMs` 0 reads on every call.
 * Bounded: beyond `max` entries the oldest is dropped.
 */
export class CredentialCache<V> {
  /** `tags` is null while the read is in flight. */
  private readonly entries = new Map<string, { value: Promise<V>; expiresAt: number; tags: readonly string[] | null }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The value under `key`, read by `load` when absent or older than the TTL. `tags` name what else the value
   * depends on (e.g. the user an API key is bound to), for `forget`.
   */
  get(key: string, load: () => Promise<V>, tags: (value: V) => readonly string[] = () => []): Promise<V> {
    if (this.ttlMs <= 0) return load();
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > at) return hit.value;
    if (hit) this.entries.delete(key);
    else if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    const entry: { value: Promise<V>; expiresAt: number; tags: readonly string[] | null } = {
      value: load(),
      expiresAt: at + this.ttlMs,
      tags: null,
    };
    this.entries.set(key, entry);
    entry.value.then(
      (value) => (entry.tags = tags(value)),
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }

  /**
   * Drops the entry under `key`, every entry tagged `key`, and every read still in flight (it may have begun before
   * the change and would not know its tags yet): the next call for any of them reads again.
   */
  forget(key: string): void {
    this.entries.delete(key);
    for (const [other, entry] of this.entries) if (entry.tags === null || entry.tags.includes(key)) this.entries.delete(other);
  }
}
