/**
 * Failing or cancelling a run, written once: its open steps are cancelled (running ones told to abort through
 * NOTIFY), its pending approvals expire, the run row is finished, and the events say so (each cancelled step's
 * `step.cancelled`, then the run's own). The result applier (a final step failure), RunControlService (an
 * operator's cancel) and ApprovalService (abort at a checkpoint) all end runs here. The caller holds the runs'
 * locks, as for every run change.
 */
import { assertRunTransition, TERMINAL_RUN_STATUSES, type JsonValue } from '#core';
import { CANCEL_CHANNEL, WORK_CHANNEL } from '#events';
import { rollbackKey, type DefinitionCache } from '../compiled-definition.js';
import { completedReversibleSteps, insertRollbackSteps, markCompensating, type NewRollbackStep } from '../store/compensation.repository.js';
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
  /** Set when the run was compensating: how that ended. */
  compensation?: 'failed';
}

/** The run row's final state (checked against the run state machine). */
export function terminationFinish(t: RunTermination): RunFinish {
  assertRunTransition(t.run.status, t.status);
  return { id: t.run.id, status: t.status, output: null, error: t.error, ...(t.compensation ? { compensation: t.compensation } : {}) };
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
 * their unfinished child runs, and theirs, down the tree (locked top-down: parents are held already). A run whose
 * definition says `compensate: true` and that completed reversible steps does not end yet: it compensates first (see
 * beginCompensation); a run that was compensating ends with the status it was heading for, its compensation failed.
 */
export async function terminateRuns(client: Queryable, definitions: DefinitionCache, terminations: RunTermination[], events: NewEvent[]): Promise<void> {
  if (terminations.length === 0) return;
  const candidates = terminations.filter((t) => t.run.compensate && t.run.compensation === null);
  const reversible = await completedReversibleSteps(client, candidates.map((t) => t.run.id));
  const compensating = candidates.filter((t) => reversible.some((r) => r.run_id === t.run.id));
  const ending = terminations.filter((t) => !compensating.includes(t)).map(afterCompensation);
  const ids = terminations.map((t) => t.run.id);
  const finishes = ending.map(terminationFinish);
  const [cancelled, , , children] = await together([
    cancelOpenSteps(client, ids),
    expireApprovalsOfRuns(client, ids),
    finishRuns(client, finishes),
    liveChildren(client, { runIds: ids }),
  ]);
  for (const t of ending) {
    events.push(...terminationEvents(t, cancelled));
    t.run.status = t.status;
    noteRunEnded(client, t.run, t.status, null, t.error);
  }
  await beginCompensation(client, definitions, compensating, reversible, cancelled, events);
  for (const runId of new Set(cancelled.filter((s) => s.was_running).map((s) => s.run_id))) await notify(client, CANCEL_CHANNEL, runId);
  await cancelRuns(client, definitions, children, { reason: 'parent_ended' }, 'parent_ended', events);
}

/** A run that was compensating ends as it was going to before (failed or cancelled), its compensation marked failed. */
function afterCompensation(t: RunTermination): RunTermination {
  if (t.run.compensation !== 'running') return t;
  const status = t.run.compensation_status ?? t.status;
  const error = { ...(isObject(t.run.compensation_error) ? t.run.compensation_error : {}), compensation: { failed: t.error } };
  return { ...t, status, error, compensation: 'failed', payload: { error, compensation: 'failed' } };
}

/**
 * Saga compensation starts: the run's open steps are cancelled, and one rollback step per completed reversible step is
 * added, chained latest completion first, each a durable step (claimed, retried, evented like any other). The run runs
 * on until the chain is done (it then ends with `status`, see run-completion) or a rollback fails for good.
 */
async function beginCompensation(
  client: Queryable,
  definitions: DefinitionCache,
  terminations: RunTermination[],
  reversible: { run_id: string; step_key: string }[],
  cancelled: CancelledStep[],
  events: NewEvent[],
): Promise<void> {
  if (terminations.length === 0) return;
  const rollbacks: NewRollbackStep[] = [];
  for (const t of terminations) {
    const definition = await definitions.get(t.run.definition_id);
    const keys = reversible.filter((r) => r.run_id === t.run.id).map((r) => r.step_key);
    keys.forEach((key, i) => {
      const compiled = definition.rollbacks.get(rollbackKey(key)) as NonNullable<ReturnType<typeof definition.rollbacks.get>>;
      rollbacks.push({
        runId: t.run.id,
        organizationId: t.run.organization_id,
        key: rollbackKey(key),
        compensates: key,
        agent: compiled.spec.agent as string,
        position: compiled.position,
        after: i === 0 ? null : rollbackKey(keys[i - 1]),
        maxAttempts: compiled.retry.maxAttempts,
        timeoutMs: compiled.timeoutMs,
      });
    });
    const base = { runId: t.run.id, organizationId: t.run.organization_id };
    events.push(
      ...cancelled.filter((s) => s.run_id === t.run.id).map((s): NewEvent => ({ ...base, type: 'step.cancelled', stepKey: s.step_key, payload: { reason: t.stepReason } })),
      { ...base, type: 'run.compensating', payload: { status: t.status, error: t.error, steps: keys.map(rollbackKey) } },
      { ...base, type: 'step.ready', stepKey: rollbackKey(keys[0]), payload: { attempt: 1, compensates: keys[0] } },
      { ...base, type: 'step.compensating', stepKey: keys[0], payload: { rollbackStep: rollbackKey(keys[0]) } },
    );
    if (t.run.status !== 'running') assertRunTransition(t.run.status, 'running');
    t.run.status = 'running';
    t.run.compensation = 'running';
    t.run.compensation_status = t.status;
    t.run.compensation_error = t.error;
  }
  await insertRollbackSteps(client, rollbacks);
  await markCompensating(
    client,
    terminations.map((t) => ({ id: t.run.id, status: t.status, error: t.error, steps: rollbacks.filter((r) => r.runId === t.run.id).length })),
  );
  await notify(client, WORK_CHANNEL);
}

/** Cancels the given runs (children whose parent ended or whose step gave up on them) and their own children. */
export async function cancelRuns(
  client: Queryable,
  definitions: DefinitionCache,
  runIds: string[],
  payload: JsonValue,
  stepReason: StepCancelReason,
  events: NewEvent[],
): Promise<void> {
  if (runIds.length === 0) return;
  const locked = await lockRuns(client, runIds);
  const live = [...locked.values()].filter((r) => !TERMINAL_RUN_STATUSES.includes(r.status));
  await terminateRuns(
    client,
    definitions,
    live.map((run) => ({ run, status: 'cancelled', error: payload, stepReason, payload })),
    events,
  );
}

function isObject(value: unknown): value is Record<string, JsonValue> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
