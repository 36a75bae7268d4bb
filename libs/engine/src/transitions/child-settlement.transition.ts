/**
 * What the child runs a transaction ended do to their parent step (pure; the result applier reads and writes):
 * - a child of another attempt, or of a step that is no longer waiting (it failed, was cancelled or retried), is ignored;
 * - a completed child is counted; the last one completes the step (its output: the child's, or every child's in item
 *   order for a forEach), and until then each finished child lets the next item start (`concurrency` in flight);
 * - a failed child fails the step (fail-fast; the step's retry rules then start new children), or with
 *   `failFast: false` is counted like a completed one and reported in the collected output;
 * - a cancelled child cancels the step, and with it the parent run.
 */
import type { JsonValue } from '#core';
import type { SpawnPlan, WaitingStep } from '../store/child-run.repository.js';
import type { StepFailure } from '../worker/step-outcome.js';
import type { FinishedChild } from './finished-children.js';

export type ChildSettlement =
  | { kind: 'ignore' }
  /** Children counted; `start` are the item indexes to start next (may be none). */
  | { kind: 'counted'; accepted: FinishedChild[]; started: number; finished: number; start: number[] }
  /** Every child finished: the step completes with the output the applier assembles from the children. */
  | { kind: 'done'; accepted: FinishedChild[]; started: number; finished: number }
  | { kind: 'failed'; accepted: FinishedChild[]; error: StepFailure }
  | { kind: 'cancelled'; accepted: FinishedChild[]; child: FinishedChild };

export function settleChildren(step: WaitingStep | undefined, children: FinishedChild[]): ChildSettlement {
  const accepted = step && step.status === 'waiting' && step.spawn ? children.filter((c) => c.parentAttempt === step.attempt) : [];
  if (!step?.spawn || accepted.length === 0) return { kind: 'ignore' };
  const plan = step.spawn;
  const cancelled = accepted.find((c) => c.status === 'cancelled');
  if (cancelled) return { kind: 'cancelled', accepted, child: cancelled };
  const failed = accepted.find((c) => c.status === 'failed');
  if (failed && plan.failFast) return { kind: 'failed', accepted, error: childFailure(plan, failed) };
  const finished = step.children_finished + accepted.length;
  if (finished >= step.children_total) return { kind: 'done', accepted, started: step.children_started, finished };
  const inFlight = step.children_started - finished;
  const room = Math.max(0, plan.concurrency - inFlight);
  const next = Math.min(room, step.children_total - step.children_started);
  const start = Array.from({ length: next }, (_, i) => step.children_started + i);
  return { kind: 'counted', accepted, started: step.children_started + next, finished, start };
}

/** The error a fail-fast step fails with: retryable unless the child's was not (the step's retry policy then starts new children). */
export function childFailure(plan: SpawnPlan, child: FinishedChild): StepFailure {
  const error = (child.error ?? {}) as { code?: string; message?: string; error?: { message?: string; retryable?: boolean } };
  const cause = error.message ?? error.error?.message ?? error.code ?? 'failed';
  const item = child.itemIndex === null ? '' : ` (item ${child.itemIndex})`;
  return {
    code: 'CHILD_FAILED',
    message: `child run ${child.runId} of ${plan.slug}${item} failed: ${cause}`,
    // A child that failed for good for a reason a new child would meet again (bad input, depth) is not retried.
    retryable: error.error?.retryable !== false,
    details: { childRunId: child.runId, index: child.itemIndex, error: child.error },
  };
}

/** The step's output from its children (in item order): the one child's output, the outputs, or collected results. */
export function childrenOutput(plan: SpawnPlan, children: { id: string; item_index: number | null; status: string; output: JsonValue; error: JsonValue }[]): JsonValue {
  if (!plan.forEach) return children[0]?.output ?? null;
  if (plan.failFast) return children.map((c) => c.output ?? null);
  return children.map((c) => ({
    index: c.item_index,
    runId: c.id,
    status: c.status,
    output: c.status === 'completed' ? (c.output ?? null) : null,
    error: c.status === 'completed' ? null : (c.error ?? null),
  }));
}
