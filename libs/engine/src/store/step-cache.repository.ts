/**
 * The step output cache (`cache: { key, ttlMs }` on a step). Invariant: an entry is only ever written by the
 * transaction that applies a real call's completion (fenced like any result), so a reused output is one an agent of
 * that organization produced for that rendered key; lookups never cross organizations or agents.
 */
import { createHash } from 'node:crypto';
import type { JsonValue } from '#core';
import type { Queryable } from './engine-database.js';

export interface CacheLookup {
  organizationId: string;
  agentSlug: string;
  key: string;
}

export interface CacheWrite extends CacheLookup {
  ttlMs: number;
  output: JsonValue;
  runId: string;
  stepKey: string;
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');
const entryId = (e: { organizationId: string; agentSlug: string; key: string }) => `${e.organizationId}\u0000${e.agentSlug}\u0000${e.key}`;

/** Live entries for the given keys (one statement), by organization, agent and key (see `cachedOutput`). */
export async function lookupCached(client: Queryable, wanted: CacheLookup[]): Promise<Map<string, JsonValue>> {
  const out = new Map<string, JsonValue>();
  if (wanted.length === 0) return out;
  const byHash = new Map(wanted.map((w) => [`${w.organizationId}\u0000${w.agentSlug}\u0000${hashOf(w.key)}`, w]));
  const { rows } = await client.query<{ organization_id: string; agent_slug: string; key_hash: string; output: JsonValue }>(
    `SELECT c.organization_id, c.agent_slug, c.key_hash, c.output
       FROM step_cache c
       JOIN unnest($1::uuid[], $2::text[], $3::text[]) AS k(organization_id, agent_slug, key_hash)
         ON c.organization_id = k.organization_id AND c.agent_slug = k.agent_slug AND c.key_hash = k.key_hash
      WHERE c.expires_at > now()`,
    [wanted.map((w) => w.organizationId), wanted.map((w) => w.agentSlug), wanted.map((w) => hashOf(w.key))],
  );
  for (const row of rows) {
    const hit = byHash.get(`${row.organization_id}\u0000${row.agent_slug}\u0000${row.key_hash}`);
    if (hit) out.set(entryId(hit), row.output);
  }
  return out;
}

/** The output `lookupCached` found for this organization, agent and key (undefined: a miss). */
export function cachedOutput(found: Map<string, JsonValue>, lookup: CacheLookup): JsonValue | undefined {
  return found.get(entryId(lookup));
}

/** Stores (or refreshes) the outputs of real calls, each live for its step's ttlMs from now; the last write of a key wins. */
export async function storeCached(client: Queryable, writes: CacheWrite[]): Promise<void> {
  if (writes.length === 0) return;
  const unique = [...new Map(writes.map((w) => [entryId(w), w])).values()];
  await client.query(
    `INSERT INTO step_cache (organization_id, agent_slug, key_hash, key_text, output, run_id, step_key, created_at, expires_at)
     SELECT v.organization_id, v.agent_slug, v.key_hash, v.key_text, v.output, v.run_id, v.step_key, now(),
            now() + make_interval(secs => v.ttl_ms::double precision / 1000)
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::uuid[], $7::text[], $8::int[])
         AS v(organization_id, agent_slug, key_hash, key_text, output, run_id, step_key, ttl_ms)
     ON CONFLICT (organization_id, agent_slug, key_hash) DO UPDATE
        SET output = EXCLUDED.output, key_text = EXCLUDED.key_text, run_id = EXCLUDED.run_id, step_key = EXCLUDED.step_key,
            created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
    [
      unique.map((w) => w.organizationId),
      unique.map((w) => w.agentSlug),
      unique.map((w) => hashOf(w.key)),
      unique.map((w) => w.key.slice(0, 200)),
      unique.map((w) => JSON.stringify(w.output ?? null)),
      unique.map((w) => w.runId),
      unique.map((w) => w.stepKey),
      unique.map((w) => w.ttlMs),
    ],
  );
}

/** Deletes up to `limit` expired entries; returns how many. */
export async function purgeExpired(client: Queryable, limit: number): Promise<number> {
  const { rowCount } = await client.query(
    `DELETE FROM step_cache WHERE (organization_id, agent_slug, key_hash) IN
       (SELECT organization_id, agent_slug, key_hash FROM step_cache WHERE expires_at <= now() ORDER BY expires_at LIMIT $1)`,
    [limit],
  );
  return rowCount ?? 0;
}
