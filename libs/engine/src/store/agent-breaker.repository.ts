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
