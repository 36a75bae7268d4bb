/**
 * An event as the engine's observers see it once its transaction has committed (see EngineDatabase.onCommitted):
 * the event itself plus what the same statement that appended it could read at no extra round trip: the run's
 * definition slug and, for step events, the step row as the transaction left it (agent, attempt, and its timing).
 * Metrics, per-transition logs and run spans are all derived from these, so they can never disagree with the log.
 */
import type { JsonValue } from '#core';
import type { EventType } from '#events';

export interface CommittedEvent {
  id: string;
  runId: string;
  organizationId: string;
  seq: number;
  type: EventType;
  stepKey: string | null;
  payload: JsonValue;
  /** The run's definition slug (bounded: a label for metrics). */
  definition: string | null;
  /** The W3C traceparent of the run's span (null: the run was created while tracing was off). */
  traceParent: string | null;
  /** Step events: the step's agent slug as the transaction left it (after routing); null for approval gates. */
  agent: string | null;
  /** Step events: the step row's attempt number after the transaction. */
  stepAttempt: number | null;
  /** Step events: milliseconds from the step's last start to this transaction (the attempt's duration for results). */
  sinceStartedMs: number | null;
  /** Step events: milliseconds from the step's due time (next_attempt_at) to its last start (dispatch latency). */
  dueToStartMs: number | null;
  /** Step events: the step was running (started after it last became due) when this transaction began. */
  startedAfterDue: boolean | null;
}

/** Called with the events of one committed transaction, in append order. Must not throw (errors are swallowed). */
export type CommittedEventsObserver = (events: CommittedEvent[]) => void;
