/**
 * Publishes the breaker changes a batch of results carries, in the batch's transaction, and logs each as
 * `agent.breaker_*` events. orchestration_events is a per-run log, so an agent's breaker events are logged on the
 * run whose step caused the change (its stepKey set; the payload names the agent): the run's history shows why its
 * step was not called or fell back, and the organization stream and webhooks see every agent event once.
 */
import type { BreakerChange } from '#agents';
import { publishBreakerState } from '../store/agent-breaker.repository.js';
import type { Queryable } from '../store/engine-database.js';
import type { NewEvent } from '../store/event-log.repository.js';

export interface BreakerChangeAt {
  runId: string;
  organizationId: string;
  stepKey: string;
  change: BreakerChange;
}

export async function recordBreakerChanges(client: Queryable, changes: BreakerChangeAt[], events: NewEvent[]): Promise<void> {
  for (const { runId, organizationId, stepKey, change } of changes) {
    const trial = change.from === 'half_open';
    const previous = await publishBreakerState(client, organizationId, change.agentSlug, change.to, trial);
    if (previous === null) continue;
    const base = { runId, organizationId, stepKey };
    const payload = { agent: change.agentSlug, from: trial ? 'half_open' : previous, to: change.to };
    if (trial) events.push({ ...base, type: 'agent.breaker_half_opened', payload: { agent: change.agentSlug, from: 'open', to: 'half_open' } });
    events.push({ ...base, type: change.to === 'open' ? 'agent.breaker_opened' : 'agent.breaker_closed', payload });
  }
}
