/**
 * Feeds the engine's Prometheus metrics from committed events (EngineDatabase.onCommitted): the event log is the one
 * source of truth, so a counter moves exactly when a transition committed, once per transition, in the process that
 * committed it (Prometheus sums the processes). Labels stay bounded: definition and agent slugs, models, outcomes.
 */
import { Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TIMEOUT_ERROR } from '#agents';
import type { JsonValue } from '#core';
import { BatonMetrics, type BreakerState, type StepOutcome } from '#observability';
import type { CommittedEvent } from '../store/committed-event.js';
import { EngineDatabase } from '../store/engine-database.js';

/** The agent label of a step event: approval gates call no agent. */
export const NO_AGENT = '(approval)';

const field = (value: JsonValue | undefined, name: string): JsonValue | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined;

/** What a step event says about the attempt that ended with it (null: no attempt ended). */
export function attemptOutcome(event: CommittedEvent): StepOutcome | null {
  const code = field(field(event.payload, 'error'), 'code');
  switch (event.type) {
    case 'step.completed':
      return 'completed';
    case 'checkpoint.requested':
      return 'checkpoint';
    case 'step.failed':
      return code === TIMEOUT_ERROR ? 'timeout' : 'failed';
    case 'step.retrying': {
      const reason = field(event.payload, 'reason');
      if (reason === 'lease_expired') return 'lease_lost';
      if (reason === 'worker_shutdown') return 'released';
      return code === TIMEOUT_ERROR ? 'timeout' : 'retrying';
    }
    case 'step.cancelled':
      // Only a step that was running has an attempt that ended; pending, ready and waiting ones are just cancelled.
      return event.startedAfterDue ? 'cancelled' : null;
    default:
      return null;
  }
}

const BREAKER_EVENTS: Partial<Record<CommittedEvent['type'], BreakerState>> = {
  'agent.breaker_opened': 'open',
  'agent.breaker_half_opened': 'half_open',
  'agent.breaker_closed': 'closed',
};

@Injectable()
export class EngineEventMetrics implements OnModuleInit, OnModuleDestroy {
  private off: (() => void) | null = null;

  constructor(
    private readonly db: EngineDatabase,
    @Optional() private readonly metrics?: BatonMetrics,
  ) {}

  onModuleInit(): void {
    if (this.metrics) this.off = this.db.onCommitted((events) => this.observe(events));
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  private observe(events: CommittedEvent[]): void {
    const m = this.metrics as BatonMetrics;
    for (const event of events) {
      const definition = event.definition ?? 'unknown';
      switch (event.type) {
        case 'run.created':
          m.runStarted(definition);
          continue;
        case 'run.completed':
          m.runFinished(definition, 'completed');
          continue;
        case 'run.failed':
          m.runFinished(definition, 'failed');
          continue;
        case 'run.cancelled':
          m.runFinished(definition, 'cancelled');
          continue;
        case 'step.started': {
          if (event.dueToStartMs !== null) m.dispatchLatency(event.dueToStartMs);
          const cache = field(event.payload, 'cache');
          if (cache === 'hit' || cache === 'miss') m.stepCacheLookup(event.agent ?? NO_AGENT, cache);
          continue;
        }
        default:
          break;
      }
      const breaker = BREAKER_EVENTS[event.type];
      if (breaker) {
        const agent = field(event.payload, 'agent');
        if (typeof agent === 'string') m.breakerTransition(agent, breaker);
        continue;
      }
      const outcome = attemptOutcome(event);
      if (!outcome) continue;
      const agent = event.agent ?? NO_AGENT;
      m.stepFinished(agent, outcome, event.sinceStartedMs ?? 0);
      // An LLM attempt's usage rides on step.completed, or on checkpoint.requested when its output awaits a decision.
      const usage = event.type === 'step.completed' || event.type === 'checkpoint.requested' ? field(event.payload, 'usage') : undefined;
      if (usage !== undefined) {
        const model = field(usage, 'model');
        const num = (name: string) => {
          const v = field(usage, name);
          return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
        };
        m.llmUsage({
          agent,
          model: typeof model === 'string' && model ? model : 'unknown',
          inputTokens: num('inputTokens'),
          outputTokens: num('outputTokens'),
          costUsd: num('costUsd'),
        });
      }
    }
  }
}
