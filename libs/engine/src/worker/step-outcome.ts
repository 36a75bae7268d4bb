import type { AgentUsage, BreakerChange } from '#agents';
import type { JsonValue } from '#core';

export interface StepFailure {
  code: string;
  message: string;
  retryable: boolean;
  /** The least delay before a retry that the agent's peer asked for (Retry-After); the backoff never goes below it. */
  retryAfterMs?: number;
  /** Where the failure came from, when it is not the step's own call (a failed child run: its id, item and error). */
  details?: JsonValue;
}

/** What became of one attempt of one step, as reported by whoever held (or took over) its lease. */
export type StepOutcome =
  /** `usage`: tokens and cost of the attempt (LLM agents), recorded on the step and in step.completed. */
  | { kind: 'completed'; output: JsonValue; usage?: AgentUsage; breaker?: BreakerChange }
  | { kind: 'failed'; error: StepFailure; breaker?: BreakerChange }
  /** The reaper found the lease expired (the worker died or stalled). */
  | { kind: 'lease_lost' }
  /** The worker gave the step back while shutting down. */
  | { kind: 'released' }
  | { kind: 'progress'; progress: JsonValue };

export interface StepResult {
  stepId: string;
  runId: string;
  stepKey: string;
  /** The attempt the outcome belongs to, and the lease owner it was produced under: both must still match (fencing). */
  attempt: number;
  fenceOwner: string;
  outcome: StepOutcome;
  /** At most how many dependents applying this result can release (they may start in its transaction). */
  mayRelease?: number;
}

/** A crashed or stalled worker's step goes back to ready this many times before the step fails for good. */
export const MAX_LEASE_LOSSES = 3;
