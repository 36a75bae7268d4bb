/**
 * SQL of capability routing and fallback: the active agents that could take a step, read inside the claim
 * transaction (fresh, not cached: the choice depends on their load and breaker state right now).
 */
import { AGENT_COLUMNS, type AgentRow } from '../worker/agent-directory.js';
import type { Queryable } from './engine-database.js';

export interface CandidateRow extends AgentRow {
  running: number;
}

/**
 * Active agents of the organization that have any of `capabilities` (GIN index on capabilities), or, with
 * `slugs`, the agents named there; each with how many of its steps run now (partial index of running steps).
 */
export async function candidateAgents(
  client: Queryable,
  organizationId: string,
  by: { capabilities: string[] } | { slugs: string[] },
): Promise<CandidateRow[]> {
  const [filter, value] = 'slugs' in by ? ['a.slug = ANY($2::text[])', by.slugs] : ['a.capabilities && $2::text[]', by.capabilities];
  const { rows } = await client.query<CandidateRow>(
    `SELECT ${AGENT_COLUMNS.split(', ')
      .map((c) => `a.${c}`)
      .join(', ')},
            (SELECT count(*)::int FROM orchestration_steps s
              WHERE s.organization_id = a.organization_id AND s.agent_slug = a.slug AND s.status = 'running') AS running
       FROM agents a
      WHERE a.organization_id = $1 AND a.status = 'active' AND ${filter}`,
    [organizationId, value],
  );
  return rows;
}
