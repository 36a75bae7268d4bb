/**
 * Traces of runs that may last days, across processes and restarts, without a span left open: a run's span is a
 * short `run {definition}` span started when the run is created (under the request's span when a traced request
 * starts it) and ended with the creating transaction; its traceparent is stored on the run row. Every later piece
 * of work on the run is a short span of its own in that trace, parented by the run span: each step attempt
 * (`step {key}`, with the agent call under it, see StepExecutor) and each run transition that commits
 * (`run.completed {definition}`, `checkpoint.resolved {definition}`, ...), linked to the span that caused it (a
 * decision's request, for instance). The engine learns the trace of a step from the committed `step.started`
 * events (EngineDatabase.onCommitted), which carry the run's traceparent read by the append itself.
 * Tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT): spans are no-ops, no traceparent is stored, nothing is kept.
 */
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import type { CommittedEvent } from '../store/committed-event.js';
import { EngineDatabase } from '../store/engine-database.js';

const tracer = () => trace.getTracer('baton');

/** Attempt contexts kept for steps this process started and has not run yet: bounded, oldest dropped first. */
const MAX_PENDING_ATTEMPTS = 10_000;

/** Transitions that get a span of their own (step attempts have theirs, from the executor). */
const TRANSITION_SPANS = new Set<string>([
  'run.started',
  'run.awaiting_approval',
  'run.resumed',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'checkpoint.requested',
  'checkpoint.resolved',
  'checkpoint.escalated',
]);

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function formatTraceParent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

export function parseTraceParent(value: string | null | undefined): SpanContext | null {
  const match = value ? TRACEPARENT.exec(value) : null;
  if (!match) return null;
  return { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16), isRemote: true };
}

export interface RunSpan {
  span: Span;
  traceParent: string;
}

@Injectable()
export class RunTracing implements OnModuleInit, OnModuleDestroy {
  private readonly attempts = new Map<string, Context>();
  private off: (() => void) | null = null;

  constructor(private readonly db: EngineDatabase) {}

  onModuleInit(): void {
    this.off = this.db.onCommitted((events) => this.observe(events));
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  /** The span of a run about to be created, under the active context (null while tracing is off). */
  startRun(definition: string, organizationId: string): RunSpan | null {
    const span = tracer().startSpan(
      `run ${definition}`,
      { kind: SpanKind.INTERNAL, attributes: { 'baton.definition': definition, 'baton.organization_id': organizationId } },
      context.active(),
    );
    if (!span.isRecording()) {
      span.end();
      return null;
    }
    return { span, traceParent: formatTraceParent(span.spanContext()) };
  }

  /** The context a step attempt's span starts under: the run's span, when this process committed its start. */
  attemptContext(runId: string, stepKey: string, attempt: number): Context | undefined {
    const key = attemptKey(runId, stepKey, attempt);
    const found = this.attempts.get(key);
    if (found) this.attempts.delete(key);
    return found;
  }

  private observe(events: CommittedEvent[]): void {
    const cause = trace.getSpanContext(context.active());
    for (const event of events) {
      const run = parseTraceParent(event.traceParent);
      if (!run) continue;
      const parent = trace.setSpanContext(ROOT_CONTEXT, run);
      if (event.type === 'step.started' && event.stepKey) {
        const attempt = (event.payload as { attempt?: unknown } | null)?.attempt;
        if (typeof attempt !== 'number') continue;
        if (this.attempts.size >= MAX_PENDING_ATTEMPTS) this.attempts.delete(this.attempts.keys().next().value as string);
        this.attempts.set(attemptKey(event.runId, event.stepKey, attempt), parent);
        continue;
      }
      if (!TRANSITION_SPANS.has(event.type)) continue;
      const links: Link[] = cause && trace.isSpanContextValid(cause) && cause.traceId !== run.traceId ? [{ context: cause }] : [];
      const span = tracer().startSpan(
        `${event.type} ${event.definition ?? ''}`.trim(),
        {
          kind: SpanKind.INTERNAL,
          links,
          attributes: {
            'baton.event': event.type,
            'baton.event_id': event.id,
            'baton.run_id': event.runId,
            'baton.organization_id': event.organizationId,
            ...(event.definition ? { 'baton.definition': event.definition } : {}),
            ...(event.stepKey ? { 'baton.step_key': event.stepKey } : {}),
          },
        },
        parent,
      );
      if (event.type === 'run.failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'run failed' });
      span.end();
    }
  }
}

const attemptKey = (runId: string, stepKey: string, attempt: number) => `${runId}\u0000${stepKey}\u0000${attempt}`;
