/**
 * What one fenced outcome of one step attempt does to that step: a pure function from (step row, outcome, compiled
 * step) to the row update and the events, checked against the step state machine of libs/core. The result applier
 * only gathers these per batch and writes them; it decides nothing itself.
 */
import { assertStepTransition, assertUnreachable, type ApprovalSpec, type JsonValue, type StepStatus } from '#core';
import { retryDelayMs } from '../backoff.js';
import type { GroupTurn } from '../group/group-conversation.js';
import type { CompiledStep } from '../compiled-definition.js';
import type { NewEvent } from '../store/event-log.repository.js';
import type { StepRow, StepUpdate } from '../store/step-transition.repository.js';
import { describe } from '../worker/budget-guard.js';
import { MAX_LEASE_LOSSES, type StepOutcome } from '../worker/step-outcome.js';

/** Where an event of this step goes (run, organization, step key). */
export type EventBase = Pick<NewEvent, 'runId' | 'organizationId' | 'stepKey'>;

export type StepTransition =
  /** Progress changes no row: one event. */
  | { kind: 'progress'; events: NewEvent[] }
  /** A group step's turn: recorded (group_turns) with its event; the step stays running. */
  | { kind: 'turn'; turn: GroupTurn; events: NewEvent[] }
  /** The agent answered a checkpointed step: the output is kept and the step awaits a decision. */
  | { kind: 'checkpoint'; update: StepUpdate; output: JsonValue; events: NewEvent[]; approval?: ApprovalSpec; turn?: GroupTurn }
  /** `turn`: a group step's last turn, recorded with the completion. */
  | { kind: 'completed'; update: StepUpdate; output: JsonValue; events: NewEvent[]; turn?: GroupTurn }
  /** Back to ready: a retry after `delayMs`, or a lost lease or shutdown (no attempt counted, delay 0). */
  | { kind: 'requeued'; update: StepUpdate; delayMs: number; events: NewEvent[] }
  /** Final failure: the run fails with it. */
  | { kind: 'failed'; update: StepUpdate; error: JsonValue; events: NewEvent[] };

export type StepTransitionKind = StepTransition['kind'];

/** The step as the transition needs it (what the result applier reads under the run lock). */
export type TransitionStep = Pick<StepRow, 'id' | 'status' | 'attempt' | 'max_attempts' | 'lease_losses'>;

export function isCheckpoint(compiled: CompiledStep | undefined): boolean {
  return Boolean(compiled && (compiled.spec.approval || compiled.spec.type === 'approval'));
}

export function stepOutcomeTransition(
  step: TransitionStep,
  outcome: StepOutcome,
  compiled: CompiledStep | undefined,
  base: EventBase,
): StepTransition {
  const update = (status: StepStatus, fields: Partial<StepUpdate> = {}): StepUpdate => {
    assertStepTransition(step.status, status);
    return { id: step.id, status, attempt: step.attempt, leaseLosses: step.lease_losses, output: null, error: null, delayMs: null, ...fields };
  };
  const attempt = step.attempt;
  switch (outcome.kind) {
    case 'progress':
      return { kind: 'progress', events: [{ ...base, type: 'step.progress', payload: { attempt, progress: outcome.progress } }] };
    case 'turn':
      return { kind: 'turn', turn: outcome.turn, events: [turnEvent(outcome.turn, attempt, base)] };
    case 'completed': {
      const turn = outcome.turn ? { turn: outcome.turn } : {};
      const turnEvents = outcome.turn ? [turnEvent(outcome.turn, attempt, base)] : [];
      if (isCheckpoint(compiled)) {
        // Its event (checkpoint.requested) is the checkpoint opener's, which also knows the approval's id.
        const output = outcome.output;
        return { kind: 'checkpoint', update: update('awaiting_approval', { output }), output, events: turnEvents, ...turn };
      }
      return {
        kind: 'completed',
        update: update('completed', { output: outcome.output }),
        output: outcome.output,
        ...turn,
        events: [
          ...turnEvents,
          {
            ...base,
            type: 'step.completed',
            payload: {
              attempt,
              output: outcome.output,
              ...(outcome.usage ? { usage: { ...outcome.usage } } : {}),
              ...(outcome.cached ? { cached: true } : {}),
            },
          },
        ],
      };
    }
    case 'input_required': {
      // The agent's question becomes the checkpoint: answer it (retry with `reply`), skip the step, or abort the run.
      const own = compiled?.spec.approval;
      const approval: ApprovalSpec = {
        prompt: outcome.request.question,
        decisions: ['retry', 'skip', 'abort'],
        ...(own?.roles ? { roles: own.roles } : {}),
        ...(own?.assignees ? { assignees: own.assignees } : {}),
        ...(own?.timeoutMs ? { timeoutMs: own.timeoutMs, onTimeout: own.onTimeout === 'skip' ? 'skip' : 'abort' } : {}),
      };
      const output = { ...outcome.request } as unknown as JsonValue;
      return { kind: 'checkpoint', update: update('awaiting_approval', { output }), output, events: [], approval };
    }
    case 'budget_exceeded': {
      const r = outcome.request;
      const approval: ApprovalSpec = {
        prompt: `Budget reached: ${describe(r)}. Raise it?`,
        decisions: ['continue', 'abort'],
        ...(compiled?.spec.approval?.roles ? { roles: compiled.spec.approval.roles } : {}),
      };
      const output = { ...r } as unknown as JsonValue;
      return { kind: 'checkpoint', update: update('awaiting_approval', { output, attempt: attempt - 1 }), output, events: [], approval };
    }
    case 'lease_lost':
    case 'released': {
      const losses = step.lease_losses + (outcome.kind === 'lease_lost' ? 1 : 0);
      if (losses > MAX_LEASE_LOSSES) {
        const error = { code: 'LEASE_EXPIRED', message: `the step's worker lost its lease ${losses} times`, retryable: false };
        return failed(update('failed', { leaseLosses: losses, error }), error, attempt, base);
      }
      // A crash or a shutdown is not a failed attempt: the attempt number is given back.
      const reason = outcome.kind === 'lease_lost' ? 'lease_expired' : 'worker_shutdown';
      return {
        kind: 'requeued',
        update: update('ready', { attempt: attempt - 1, leaseLosses: losses, delayMs: 0 }),
        delayMs: 0,
        events: [
          { ...base, type: 'step.retrying', payload: { attempt, reason, delayMs: 0 } },
          { ...base, type: 'step.ready', payload: { attempt } },
        ],
      };
    }
    case 'failed': {
      const error = { ...outcome.error };
      const policy = compiled?.retry;
      const retryable = error.retryable && !(policy?.nonRetryable ?? []).includes(error.code) && attempt < step.max_attempts;
      if (!retryable || !policy) return failed(update('failed', { error }), error, attempt, base);
      // A peer that said when to come back (Retry-After) is not called earlier than that.
      const delayMs = Math.max(retryDelayMs(policy, attempt), outcome.error.retryAfterMs ?? 0);
      return {
        kind: 'requeued',
        update: update('ready', { error, delayMs }),
        delayMs,
        events: [{ ...base, type: 'step.retrying', payload: { attempt, nextAttempt: attempt + 1, delayMs, error: { ...error } } }],
      };
    }
    default:
      return assertUnreachable(outcome, 'step outcome');
  }
}

function turnEvent(turn: GroupTurn, attempt: number, base: EventBase): NewEvent {
  const { usage, fallbackReason, ...said } = turn;
  return {
    ...base,
    type: 'group.turn',
    payload: { attempt, ...said, ...(usage ? { usage: { ...usage } } : {}), ...(fallbackReason ? { fallbackReason } : {}) },
  };
}

function failed(update: StepUpdate, error: JsonValue, attempt: number, base: EventBase): StepTransition {
  return { kind: 'failed', update, error, events: [{ ...base, type: 'step.failed', payload: { attempt, error } }] };
}
