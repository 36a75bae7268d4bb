/**
 * Completing a run whose last step finished: its output is computed from the step outputs (the definition's
 * `output:` template, or its sinks'), and a template that cannot be rendered fails the run instead. Called by the
 * result applier, by ApprovalService (a decision on the last step) and by RunControlService (a skip that leaves
 * nothing to run), always under the run's lock.
 */
import { assertRunTransition, type JsonValue } from '#core';
import type { CompiledDefinition, DefinitionCache } from '../compiled-definition.js';
import { runOutput } from '../run-outcome.js';
import type { Queryable } from '../store/engine-database.js';
import type { NewEvent } from '../store/event-log.repository.js';
import { noteRunEnded } from './finished-children.js';
import { countDownRemaining, finishRuns, stepOutputs, type RunFinish, type RunRow } from '../store/step-transition.repository.js';

/** The run's final row and event, from its definition and the outputs of its steps (skipped ones count, as null or substitute). */
export function runCompletion(
  run: RunRow,
  definition: CompiledDefinition,
  outputs: Map<string, unknown>,
): { finish: RunFinish; event: NewEvent } {
  const base = { runId: run.id, organizationId: run.organization_id };
  if (run.compensation === 'running') {
    // The last rollback step finished: the run ends as it was heading for when compensation began.
    const status = run.compensation_status ?? 'failed';
    assertRunTransition(run.status, status);
    const error = (run.compensation_error ?? null) as JsonValue;
    const payload = { error, compensation: 'completed' };
    return {
      finish: { id: run.id, status, output: null, error, compensation: 'completed' },
      event: { ...base, type: status === 'failed' ? 'run.failed' : 'run.cancelled', payload },
    };
  }
  let finish: RunFinish;
  try {
    finish = { id: run.id, status: 'completed', output: runOutput(definition, run.input, outputs), error: null };
  } catch (error) {
    finish = { id: run.id, status: 'failed', output: null, error: { code: 'OUTPUT_TEMPLATE', message: (error as Error).message } };
  }
  assertRunTransition(run.status, finish.status);
  const event: NewEvent =
    finish.status === 'completed'
      ? { ...base, type: 'run.completed', payload: { output: finish.output as JsonValue } }
      : { ...base, type: 'run.failed', payload: { error: finish.error as JsonValue } };
  return { finish, event };
}

/** Completes the given locked runs (every step of which has finished), appending their events. */
export async function completeRuns(
  client: Queryable,
  definitions: DefinitionCache,
  runs: Map<string, RunRow>,
  runIds: string[],
  events: NewEvent[],
): Promise<void> {
  if (runIds.length === 0) return;
  const outputs = new Map<string, Map<string, unknown>>();
  for (const row of await stepOutputs(client, runIds)) {
    const map = outputs.get(row.run_id) ?? new Map<string, unknown>();
    map.set(row.step_key, row.status === 'completed' || row.status === 'skipped' ? row.output : null);
    outputs.set(row.run_id, map);
  }
  const completions: { run: RunRow; finish: RunFinish; event: NewEvent }[] = [];
  for (const id of runIds) {
    const run = runs.get(id) as RunRow;
    completions.push({ run, ...runCompletion(run, await definitions.get(run.definition_id), outputs.get(id) ?? new Map()) });
  }
  await finishRuns(
    client,
    completions.map((c) => c.finish),
  );
  for (const c of completions) {
    c.run.status = c.finish.status;
    events.push(c.event);
    noteRunEnded(client, c.run, c.finish.status, c.finish.output, c.finish.error);
  }
}

/**
 * Counts each run's finished steps down (steps_remaining) and completes the runs that reach zero. `counted`: the
 * caller already counted them down (countDownRemaining's answer).
 */
export async function completeFinishedRuns(
  client: Queryable,
  definitions: DefinitionCache,
  runs: Map<string, RunRow>,
  finished: Map<string, number>,
  events: NewEvent[],
  counted?: Map<string, number> | null,
): Promise<void> {
  const remaining = counted ?? (await countDownRemaining(client, finished));
  const done = [...remaining].filter(([, n]) => n <= 0).map(([id]) => id);
  await completeRuns(client, definitions, runs, done, events);
}
