/** SQL of publishing circuit breaker states on the agent row (see libs/agents/src/breakers/agent-breakers.ts). */
import type { Queryable } from './engine-database.js';

/**
 * Writes the breaker's new state unless it is there already, answering the state it replaced (null: nothing written).
 * `open` over `open` is written only for a failed trial (`reopen`): the cool-down starts again.
 */
export async function publishBreakerState(
  client: Queryable,
  organizationId: string,
  agentSlug: string,
  to: 'open' | 'closed',
  reopen: boolean,
): Promise<string | null> {
  const { rows } = await client.query<{ previous: string }>(
    `UPDATE agents a SET breaker_state = $3, breaker_changed_at = now()
       FROM (SELECT id, breaker_state FROM agents WHERE organization_id = $1 AND slug = $2 FOR UPDATE) p
      WHERE a.id = p.id AND (p.breaker_state <> $3 OR ($3 = 'open' AND $4::boolean))
      RETURNING p.breaker_state AS previous`,
    [organizationId, agentSlug, to, reopen],
  );
  return rows[0]?.previous ?? null;
}

/**
 * Agents whose published breaker is open and still within its cool-down (not yet half-open), deployment-wide:
 * how many, and a few of their slugs (most recently opened first) to name in /ready.
 */
export async function openBreakers(client: Queryable, cooldownMs: number, sample = 5): Promise<{ count: number; agents: string[] }> {
  const { rows } = await client.query<{ count: number; agents: string[] | null }>(
    `SELECT count(*)::int AS count, (array_agg(slug ORDER BY breaker_changed_at DESC))[1:$2] AS agents
       FROM agents WHERE breaker_state = 'open' AND breaker_changed_at > now() - make_interval(secs => $1::double precision / 1000)`,
    [cooldownMs, sample],
  );
  const agents = rows[0]?.agents ?? [];
  return { count: rows[0]?.count ?? 0, agents };
}
