/**
 * SQL of the engine's agent reads: agents by slug (the claim's directory, cached by AgentDirectory) and, for capability
 * routing and fallback, the active agents that could take a step, read inside the claim transaction (fresh, not
 * cached: the choice depends on their load and breaker state right now).
 */
import type { AgentType } from '#core';
import type { AgentHealth, BreakerState } from '#persistence';
import type { Queryable } from './engine-database.js';

export interface AgentRow {
  slug: string;
  type: AgentType;
  config: Record<string, unknown>;
  status: 'active' | 'disabled';
  capabilities: string[];
  health: AgentHealth;
  breaker_state: BreakerState;
  breaker_changed_at: Date | null;
}

/** The columns of an AgentRow, for every engine read of agents. */
export const AGENT_COLUMNS = 'slug, type, config, status, capabilities, health, breaker_state, breaker_changed_at';

/** The organization's agents of the given slugs (absent ones are simply not returned). */
export async function agentsBySlug(client: Queryable, organizationId: string, slugs: string[]): Promise<AgentRow[]> {
  const { rows } = await client.query<AgentRow>(
    `SELECT ${AGENT_COLUMNS} FROM agents WHERE organization_id = $1 AND slug = ANY($2::text[])`,
    [organizationId, slugs],
  );
  return rows;
}

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
