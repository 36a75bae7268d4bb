/**
 * Failing or cancelling a run, written once: its open steps are cancelled (running ones told to abort through
 * NOTIFY), its pending approvals expire, the run row is finished, and the events say so (each cancelled step's
 * `step.cancelled`, then the run's own). The result applier (a final step failure), RunControlService (an
 * operator's cancel) and ApprovalService (abort at a checkpoint) all end runs here. The caller holds the runs'
 * locks, as for every run change.
 */
import { assertRunTransition, TERMINAL_RUN_STATUSES, type JsonValue } from '#core';
import { CANCEL_CHANNEL } from '#events';
import { together, type Queryable } from '../store/engine-database.js';
import type { NewEvent } from '../store/event-log.repository.js';
import { expireApprovalsOfRuns } from '../store/approval.repository.js';
import { liveChildren } from '../store/child-run.repository.js';
import { cancelOpenSteps, finishRuns, lockRuns, notify, type CancelledStep, type RunFinish, type RunRow } from '../store/step-transition.repository.js';
import { noteRunEnded } from './finished-children.js';

/** Why the steps of an ended run were cancelled (the `reason` of their step.cancelled events). */
export type StepCancelReason = 'run_failed' | 'run_cancelled' | 'checkpoint_abort' | 'parent_ended' | 'child_cancelled';

export interface RunTermination {
  run: RunRow;
  status: 'failed' | 'cancelled';
  /** Kept as the run's `error`. */
  error: JsonValue | null;
  stepReason: StepCancelReason;
  /** The payload of the run's run.failed or run.cancelled event. */
  payload: JsonValue;
}

/** The run row's final state (checked against the run state machine). */
export function terminationFinish(t: RunTermination): RunFinish {
  assertRunTransition(t.run.status, t.status);
  return { id: t.run.id, status: t.status, output: null, error: t.error };
}

/** The events of one termination, given the steps it cancelled (of every terminated run). */
export function terminationEvents(t: RunTermination, cancelled: CancelledStep[]): NewEvent[] {
  const base = { runId: t.run.id, organizationId: t.run.organization_id };
  const events: NewEvent[] = cancelled
    .filter((s) => s.run_id === t.run.id)
    .map((s) => ({ ...base, type: 'step.cancelled', stepKey: s.step_key, payload: { reason: t.stepReason } }));
  events.push({ ...base, type: t.status === 'failed' ? 'run.failed' : 'run.cancelled', payload: t.payload });
  return events;
}

/**
 * Ends the runs in one round trip, appends their events to `events` and marks the in-memory rows ended; then cancels
 * their unfinished child runs, and theirs, down the tree (locked top-down: parents are held already).
 */
export async function terminateRuns(client: Queryable, terminations: RunTermination[], events: NewEvent[]): Promise<void> {
  if (terminations.length === 0) return;
  const finishes = terminations.map(terminationFinish);
  const ids = finishes.map((f) => f.id);
  const [cancelled, , , children] = await together([
    cancelOpenSteps(client, ids),
    expireApprovalsOfRuns(client, ids),
    finishRuns(client, finishes),
    liveChildren(client, { runIds: ids }),
  ]);
  for (const t of terminations) {
    events.push(...terminationEvents(t, cancelled));
    t.run.status = t.status;
    noteRunEnded(client, t.run, t.status, null, t.error);
  }
  for (const runId of new Set(cancelled.filter((s) => s.was_running).map((s) => s.run_id))) await notify(client, CANCEL_CHANNEL, runId);
  await cancelRuns(client, children, { reason: 'parent_ended' }, 'parent_ended', events);
}

/** Cancels the given runs (children whose parent ended or whose step gave up on them) and their own children. */
export async function cancelRuns(client: Queryable, runIds: string[], payload: JsonValue, stepReason: StepCancelReason, events: NewEvent[]): Promise<void> {
  if (runIds.length === 0) return;
  const locked = await lockRuns(client, runIds);
  const live = [...locked.values()].filter((r) => !TERMINAL_RUN_STATUSES.includes(r.status));
  await terminateRuns(
    client,
    live.map((run) => ({ run, status: 'cancelled', error: payload, stepReason, payload })),
    events,
  );
}
