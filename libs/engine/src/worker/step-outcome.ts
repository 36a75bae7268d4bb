import type { AgentUsage, BreakerChange } from '#agents';
import type { BudgetRequest } from './budget-guard.js';
import type { JsonValue } from '#core';
import type { GroupTurn } from '../group/group-conversation.js';

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
  /**
   * `usage`: tokens and cost of the attempt (LLM agents), recorded on the step and in step.completed. `turn`: a group
   * step's last turn, recorded in the completion's transaction (a group costs one commit per turn, not one more).
   * `cached`: the output was reused from the step cache (see store/step-cache.repository.ts); no agent was called.
   */
  | { kind: 'completed'; output: JsonValue; usage?: AgentUsage; breaker?: BreakerChange; turn?: GroupTurn; cached?: true }
  /**
   * A group step finished a turn that does not end it: the turn is recorded (group_turns, group.turn) and the step
   * stays running. The worker starts the next turn only once this is applied (see StepResult.settled).
   */
  | { kind: 'turn'; turn: GroupTurn; breaker?: BreakerChange }
  | { kind: 'failed'; error: StepFailure; breaker?: BreakerChange }
  /**
   * The agent asked for input (A2A TASK_STATE_INPUT_REQUIRED): the step pauses at a checkpoint whose prompt is the
   * question; answering it (a `retry` decision whose modifications carry `reply`) resumes the agent's task.
   */
  | { kind: 'input_required'; request: InputRequest }
  /** A budget with `onExceeded: approval` is reached (see budget-guard.ts): the step pauses before calling its agent. */
  | { kind: 'budget_exceeded'; request: BudgetRequest }
  /** The reaper found the lease expired (the worker died or stalled). */
  | { kind: 'lease_lost' }
  /** The worker gave the step back while shutting down. */
  | { kind: 'released' }
  | { kind: 'progress'; progress: JsonValue };

/** Records a group step's turn through the result applier; resolves once committed, false if fencing discarded it. */
export type TurnRecorder = (outcome: Extract<StepOutcome, { kind: 'turn' }>) => Promise<boolean>;

/** What an agent that needs input asked, kept as the paused step's output and the checkpoint's payload. */
export interface InputRequest {
  inputRequired: true;
  question: string;
  /** The agent's task to resume with the answer (A2A: remote task and context ids). */
  remoteTask: JsonValue;
  /** Structured detail the agent sent with its question, if any. */
  data: JsonValue;
}

/** The step input a resumed attempt runs with: the paused task, and the answer to send it. */
export interface InputResume {
  resume: { remoteTask: JsonValue; reply: JsonValue };
}

export function isInputRequest(value: unknown): value is InputRequest {
  return value !== null && typeof value === 'object' && (value as { inputRequired?: unknown }).inputRequired === true;
}

export function inputResumeOf(value: unknown): InputResume['resume'] | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const resume = (value as { resume?: unknown }).resume;
  return resume !== null && typeof resume === 'object' && 'remoteTask' in resume ? (resume as InputResume['resume']) : null;
}

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
  /** The run is a root run (depth 0): applying the result can reach no parent, so no ancestor needs locking. */
  rootRun?: boolean;
  /** Called once the result's transaction committed: true if it was applied, false if fencing discarded it. */
  settled?: (applied: boolean) => void;
  /** The step caches its output (`cache:`) under this rendered key: a real call's completion is stored for reuse. */
  cache?: CacheEntryKey;
}

/** Where a step's output is cached: per organization and agent, by the step's rendered key, for ttlMs. */
export interface CacheEntryKey {
  agentSlug: string;
  key: string;
  ttlMs: number;
}

/** A crashed or stalled worker's step goes back to ready this many times before the step fails for good. */
export const MAX_LEASE_LOSSES = 3;
