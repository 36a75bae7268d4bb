/**
 * Child runs ended by the current transaction, waiting to be applied to their parent steps. The run-ending
 * transitions (run-completion, run-termination) note every child they end here; whoever ended them settles the
 * parents in the same transaction (ResultApplier.settleChildren), which the transaction owes until it has: a child's
 * end reaches its parent in the transaction that ends it, or the transaction does not commit.
 */
import type { JsonValue, RunStatus } from '#core';
import { discharge, owe } from '../store/engine-database.js';
import type { RunRow } from '../store/step-transition.repository.js';

export interface FinishedChild {
  runId: string;
  organizationId: string;
  parentRunId: string;
  parentStepId: string;
  parentAttempt: number;
  itemIndex: number | null;
  status: RunStatus;
  output: JsonValue;
  error: JsonValue;
}

const DUTY = 'settle the parent steps of ended child runs';
const finished = new WeakMap<object, FinishedChild[]>();

/** Notes that `run` just ended (with `status`, `output`, `error`) if it is a child run. */
export function noteRunEnded(client: object, run: RunRow, status: RunStatus, output: unknown, error: unknown): void {
  if (!run.parent_run_id || !run.parent_step_id || run.parent_attempt === null) return;
  let list = finished.get(client);
  if (!list) finished.set(client, (list = []));
  list.push({
    runId: run.id,
    organizationId: run.organization_id,
    parentRunId: run.parent_run_id,
    parentStepId: run.parent_step_id,
    parentAttempt: run.parent_attempt,
    itemIndex: run.item_index,
    status,
    output: (output ?? null) as JsonValue,
    error: (error ?? null) as JsonValue,
  });
  owe(client, DUTY);
}

/** The children noted so far (and forgets them): the settler's input. */
export function takeEndedChildren(client: object): FinishedChild[] {
  const list = finished.get(client) ?? [];
  finished.delete(client);
  discharge(client, DUTY);
  return list;
}
