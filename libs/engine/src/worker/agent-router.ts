/**
 * Chooses the agent a step runs on when its definition does not pin one: a `capability:` step goes to the
 * healthiest, least-loaded active agent with that capability; a step whose agent's breaker is open goes to a
 * healthy agent sharing one of its capabilities (`fallback: capability`) or to the first healthy one of its
 * `fallbackAgents`. Runs inside the claim transaction, so the agents' per-agent limits hold (the caller takes
 * the slot under the agent's advisory lock).
 */
import type { JsonObject, StepSpec } from '#core';
import { candidateAgents, type CandidateRow } from '../store/agent-routing.repository.js';
import type { Queryable } from '../store/engine-database.js';
import { agentInfo, type AgentInfo } from './agent-directory.js';

export interface RouteRequest {
  by: { capabilities: string[] } | { slugs: string[] };
  /** Never route to these (the agent whose breaker is open). */
  exclude: string[];
  /** Recorded in the step.started event: why this agent was chosen. */
  routedBy: JsonObject;
  /** Candidates keep the order of `slugs` (fallbackAgents are tried in the order written) before health and load. */
  ordered: boolean;
}

export interface RouteChoice {
  slug: string;
  agent: AgentInfo;
  routedBy: JsonObject;
}

const HEALTH_RANK = { healthy: 0, unknown: 0, degraded: 1, unhealthy: 2 } as const;
const BREAKER_RANK = { closed: 0, half_open: 1, open: 2 } as const;

/** What to route by for this step, or null when it runs on its own agent. */
export function routeRequest(spec: StepSpec | undefined, agentSlug: string | null, agent: AgentInfo | null, blocked: boolean): RouteRequest | null {
  if (spec?.capability) return { by: { capabilities: [spec.capability] }, exclude: [], routedBy: { capability: spec.capability }, ordered: false };
  if (!blocked || !agent || !agentSlug) return null;
  const from = agentSlug;
  if (spec?.fallbackAgents?.length)
    return { by: { slugs: spec.fallbackAgents }, exclude: [from], routedBy: { fallbackAgents: spec.fallbackAgents, from, reason: 'breaker_open' }, ordered: true };
  if (spec?.fallback === 'capability' && agent.capabilities.length > 0)
    return { by: { capabilities: agent.capabilities }, exclude: [from], routedBy: { fallback: 'capability', from, reason: 'breaker_open' }, ordered: false };
  return null;
}

/**
 * Candidates for `request`, best first: breakers allowing calls (closed before half-open), reported health
 * (unhealthy ones are never chosen), then load (running / maxConcurrency), then slug for a stable order.
 */
export async function rankedCandidates(
  client: Queryable,
  organizationId: string,
  request: RouteRequest,
  isBlocked: (slug: string, agent: AgentInfo) => boolean,
): Promise<{ slug: string; agent: AgentInfo; running: number }[]> {
  const rows = await candidateAgents(client, organizationId, request.by);
  const order = 'slugs' in request.by ? request.by.slugs : [];
  const usable = rows
    .filter((r) => !request.exclude.includes(r.slug) && r.health !== 'unhealthy')
    .map((r: CandidateRow) => ({ slug: r.slug, agent: agentInfo(r), running: r.running }))
    .filter((c) => !isBlocked(c.slug, c.agent));
  const load = (c: { agent: AgentInfo; running: number }) => c.running / (c.agent.maxConcurrency ?? 100);
  return usable.sort(
    (a, b) =>
      (request.ordered ? order.indexOf(a.slug) - order.indexOf(b.slug) : 0) ||
      BREAKER_RANK[a.agent.breakerState] - BREAKER_RANK[b.agent.breakerState] ||
      HEALTH_RANK[a.agent.health] - HEALTH_RANK[b.agent.health] ||
      load(a) - load(b) ||
      a.slug.localeCompare(b.slug),
  );
}
