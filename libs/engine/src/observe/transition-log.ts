/**
 * One structured log line per engine transition that matters, written once its transaction committed (from
 * EngineDatabase.onCommitted, like the metrics and run spans): `runId`, `stepKey`, `attempt`, `organizationId`,
 * `definition`, `agent`, and for ended attempts `outcome` and `durationMs`. Levels: run lifecycle, checkpoints and
 * breaker changes at info; failures, lease losses and opened breakers at warn; step starts, completions and
 * readiness at debug; progress at verbose. Step outputs and inputs are never logged (they may be large or private);
 * errors are logged by code and retryability.
 */
import { Inject, Injectable, Logger, type LogLevel, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import type { JsonValue } from '#core';
import type { CommittedEvent } from '../store/committed-event.js';
import { EngineDatabase } from '../store/engine-database.js';
import { attemptOutcome, NO_AGENT } from './engine-event-metrics.js';

const field = (value: JsonValue | undefined, name: string): JsonValue | undefined =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined;

export function transitionLevel(event: CommittedEvent): LogLevel {
  switch (event.type) {
    case 'run.failed':
    case 'step.failed':
    case 'agent.breaker_opened':
    case 'checkpoint.escalated':
      return 'warn';
    case 'step.retrying':
      return field(event.payload, 'reason') === 'lease_expired' ? 'warn' : 'log';
    case 'run.created':
    case 'run.completed':
    case 'run.cancelled':
    case 'run.awaiting_approval':
    case 'run.resumed':
    case 'checkpoint.requested':
    case 'checkpoint.resolved':
    case 'agent.breaker_half_opened':
    case 'agent.breaker_closed':
      return 'log';
    case 'step.progress':
      return 'verbose';
    default:
      return 'debug';
  }
}

/** The fields of an event's log line (bounded and free of step data). */
export function transitionFields(event: CommittedEvent): Record<string, unknown> {
  const attempt = field(event.payload, 'attempt');
  const error = field(event.payload, 'error');
  const code = field(error, 'code') ?? field(field(error, 'error'), 'code');
  const outcome = attemptOutcome(event);
  const fields: Record<string, unknown> = {
    event: event.type,
    eventId: event.id,
    runId: event.runId,
    organizationId: event.organizationId,
    definition: event.definition,
  };
  if (event.stepKey) fields.stepKey = event.stepKey;
  if (typeof attempt === 'number') fields.attempt = attempt;
  else if (event.stepKey && event.stepAttempt !== null) fields.attempt = event.stepAttempt;
  if (event.stepKey) fields.agent = event.agent ?? NO_AGENT;
  if (outcome) {
    fields.outcome = outcome;
    if (event.sinceStartedMs !== null) fields.durationMs = Math.round(event.sinceStartedMs);
  }
  if (event.type === 'step.started' && event.dueToStartMs !== null) fields.dispatchMs = Math.round(event.dueToStartMs);
  if (typeof code === 'string') fields.errorCode = code;
  const retryable = field(error, 'retryable');
  if (typeof retryable === 'boolean') fields.retryable = retryable;
  for (const name of ['reason', 'delayMs', 'nextAttempt', 'decision'] as const) {
    const value = field(event.payload, name);
    if (typeof value === 'string' || typeof value === 'number') fields[name] = value;
  }
  if (event.type.startsWith('agent.breaker_')) fields.agent = field(event.payload, 'agent');
  return fields;
}

const ORDER: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

function message(event: CommittedEvent, fields: Record<string, unknown>): string {
  const step = event.stepKey ? ` step ${event.stepKey}${fields.attempt !== undefined ? ` attempt ${String(fields.attempt)}` : ''}` : '';
  return `${event.type} ${event.definition ?? ''} run ${event.runId}${step}`.replace(/\s+/g, ' ');
}

@Injectable()
export class TransitionLog implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('EngineTransition');
  private off: (() => void) | null = null;

  /** Levels LOG_LEVEL lets through: a line that would be dropped is not even built (the engine's hot path). */
  private readonly enabled: Set<LogLevel>;

  constructor(
    private readonly db: EngineDatabase,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.enabled = new Set(ORDER.slice(0, ORDER.indexOf(config.logLevel) + 1));
  }

  onModuleInit(): void {
    this.off = this.db.onCommitted((events) => {
      for (const event of events) this.write(event);
    });
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  private write(event: CommittedEvent): void {
    const level = transitionLevel(event);
    if (!this.enabled.has(level)) return;
    const fields = transitionFields(event);
    const line = { msg: message(event, fields), ...fields };
    switch (level) {
      case 'warn':
        return this.logger.warn(line);
      case 'log':
        return this.logger.log(line);
      case 'verbose':
        return this.logger.verbose(line);
      default:
        return this.logger.debug(line);
    }
  }
}
