/**
 * A circuit breaker per agent (cockatiel's CircuitBreakerPolicy with a WindowBreaker), shared by every instance
 * through the database: the state an instance publishes is kept on the agent row (`breaker_state`,
 * `breaker_changed_at`), and every instance gates its calls on that published state as well as on its own breaker.
 *
 * - This instance's breaker counts its calls' failures and opens after BATON_BREAKER_FAILURES within
 *   BATON_BREAKER_WINDOW_MS; the opening is published (the step's outcome carries it, the result applier writes it
 *   with an `agent.breaker_opened` event on that step's run).
 * - A published `open` blocks calls on every instance for BATON_BREAKER_COOLDOWN_MS; after it, the breaker is
 *   half-open: the next call is a trial, whose success publishes `closed` and whose failure reopens it.
 * - Only failures that say something about the agent count: retryable ones (timeouts included). A cancelled step
 *   or a non-retryable error (bad input) does not.
 */
import { Inject, Injectable } from '@nestjs/common';
import { BrokenCircuitError, circuitBreaker, CircuitState, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { APP_CONFIG, type AppConfig } from '#config';
import { WindowBreaker } from './window-breaker.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface PublishedBreaker {
  state: BreakerState;
  changedAt: Date | null;
}

/** A state to publish: what the calling instance saw (`from`) and what it found (`to`). */
export interface BreakerChange {
  agentSlug: string;
  from: BreakerState;
  to: 'open' | 'closed';
}

/** Thrown inside the policy so that it counts the failure; carries the attempt's result out. */
class CountedFailure<T> extends Error {
  constructor(readonly result: T) {
    super('counted failure');
  }
}

interface LocalBreaker {
  policy: CircuitBreakerPolicy;
  openedAt: number | null;
}

@Injectable()
export class AgentBreakers {
  private readonly local = new Map<string, LocalBreaker>();

  constructor(@Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'breakerFailures' | 'breakerWindowMs' | 'breakerCooldownMs'>) {}

  /** The state as every instance shows it: a published `open` whose cool-down has passed is half-open. */
  effectiveState(published: PublishedBreaker, now = Date.now()): BreakerState {
    if (published.state === 'open' && published.changedAt && now - published.changedAt.getTime() >= this.config.breakerCooldownMs) return 'half_open';
    return published.state;
  }

  /** Whether a step must not call the agent now (published open within its cool-down, or open on this instance). */
  blocks(organizationId: string, agentSlug: string, published: PublishedBreaker, now = Date.now()): boolean {
    if (this.effectiveState(published, now) === 'open') return true;
    const local = this.local.get(key(organizationId, agentSlug));
    return !!local && local.policy.state === CircuitState.Open && local.openedAt !== null && now - local.openedAt < this.config.breakerCooldownMs;
  }

  /**
   * Runs one attempt through the agent's breaker. `attempt` never throws: it returns the result, and `failed` says
   * whether that result is a failure that counts. Answers the result (or `blocked` when the breaker refused the call
   * without making it) and the change to publish, if any.
   */
  async run<T>(
    organizationId: string,
    agentSlug: string,
    published: PublishedBreaker,
    attempt: () => Promise<T>,
    failed: (result: T) => boolean,
  ): Promise<{ result: T | null; blocked: boolean; change: BreakerChange | null }> {
    const publishedTrial = this.effectiveState(published) === 'half_open';
    if (!publishedTrial && this.blocks(organizationId, agentSlug, published)) return { result: null, blocked: true, change: null };
    const local = this.breaker(organizationId, agentSlug, published);
    // Not closed here and still let through (cockatiel refuses calls while open): this call is this instance's trial.
    const trial = publishedTrial || local.policy.state !== CircuitState.Closed;
    let result: T;
    let counted = false;
    try {
      result = await local.policy.execute(async () => {
        const r = await attempt();
        if (failed(r)) throw new CountedFailure(r);
        return r;
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError) return { result: null, blocked: true, change: null };
      if (!(error instanceof CountedFailure)) throw error;
      result = error.result as T;
      counted = true;
    }
    const opened = local.policy.state === CircuitState.Open;
    let to: 'open' | 'closed' | null = null;
    if (trial) to = counted ? 'open' : 'closed';
    else if (opened && published.state !== 'open') to = 'open';
    return { result, blocked: false, change: to ? { agentSlug, from: trial ? 'half_open' : published.state, to } : null };
  }

  /** This instance's breaker of the agent, renewed when another instance has published a newer close. */
  private breaker(organizationId: string, agentSlug: string, published: PublishedBreaker): LocalBreaker {
    const k = key(organizationId, agentSlug);
    const existing = this.local.get(k);
    const closedSince = published.state === 'closed' && published.changedAt ? published.changedAt.getTime() : null;
    if (existing && !(existing.openedAt !== null && closedSince !== null && closedSince > existing.openedAt)) return existing;
    const policy = circuitBreaker(
      handleWhen((e) => e instanceof CountedFailure),
      { halfOpenAfter: this.config.breakerCooldownMs, breaker: new WindowBreaker(this.config.breakerFailures, this.config.breakerWindowMs) },
    );
    const breaker: LocalBreaker = { policy, openedAt: null };
    policy.onBreak(() => (breaker.openedAt = Date.now()));
    policy.onReset(() => (breaker.openedAt = null));
    this.local.set(k, breaker);
    return breaker;
  }
}

const key = (organizationId: string, agentSlug: string) => `${organizationId}:${agentSlug}`;
