/**
 * Creates a run, its steps and its first events in the caller's transaction. Steps without dependencies
 * start `ready`; the rest wait with a pending-dependency counter that completions count down.
 */
import { randomUUID } from 'node:crypto';
import { claimableColumns, type ClaimableStep } from './step-claim.repository.js';
import type { Budget, JsonValue } from '#core';
import type { CompiledDefinition } from '../compiled-definition.js';
import type { NewEvent } from './event-log.repository.js';
import { together, type Queryable } from './engine-database.js';

export interface NewRunRow {
  organizationId: string;
  definition: CompiledDefinition;
  input: JsonValue;
  priority: number;
  idempotencyKey: string | null;
  parentRunId: string | null;
  parentStepId: string | null;
  /** For a child run: the attempt of the parent step that created it, its forEach item, its depth (parent's + 1). */
  parentAttempt?: number | null;
  itemIndex?: number | null;
  depth?: number;
  /** What the run may spend (the start request's, else its definition's); null: no limit. */
  budget?: Budget | null;
  /** The conversation (A2A contextId) the run belongs to; a child inherits its parent's. */
  contextId?: string | null;
  createdBy: string | null;
}

/**
 * Inserts the run under `id`; returns its row as inserted, or null when the idempotency key is taken (the caller then
 * reads the existing run).
 */
export async function insertRun(client: Queryable, run: NewRunRow, id: string): Promise<InsertedRun | null> {
  const { rows } = await client.query<InsertedRun>(
    `INSERT INTO orchestration_runs (id, organization_id, definition_id, definition_slug, definition_version, parent_run_id, parent_step_id,
        status, input, priority, idempotency_key, created_by, max_concurrency, steps_remaining, started_at,
        parent_attempt, item_index, depth, compensate, budget, context_id)
     VALUES ($19, $1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, now(), $13, $14, $15, $16, $17, $18)
     ON CONFLICT (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING *`,
    [
      run.organizationId,
      run.definition.id,
      run.definition.slug,
      run.definition.version,
      run.parentRunId,
      run.parentStepId,
      JSON.stringify(run.input),
      run.priority,
      run.idempotencyKey,
      run.createdBy,
      run.definition.spec.concurrency ?? null,
      run.definition.steps.size,
      run.parentAttempt ?? null,
      run.itemIndex ?? null,
      run.depth ?? 0,
      run.definition.spec.compensate === true,
      JSON.stringify(run.budget === undefined ? (run.definition.spec.budget ?? null) : run.budget),
      run.contextId ?? null,
      id,
    ],
  );
  return rows[0] ?? null;
}

/** A run row as its INSERT returned it (column names as in the table). */
export type InsertedRun = { id: string } & Record<string, unknown>;

/**
 * Inserts the run's steps; returns the ready ones (no dependencies), best first, as a claim would start them.
 * `ifRunInserted`: only when this transaction's run insert, issued before on the same connection, inserted the run
 * (it did nothing on an idempotency conflict): the two can then go out together.
 */
export async function insertSteps(client: Queryable, runId: string, run: NewRunRow, ifRunInserted = false): Promise<ClaimableStep[]> {
  const steps = [...run.definition.steps.values()];
  const { rows } = await client.query<ClaimableStep>(
    `WITH inserted AS (
     INSERT INTO orchestration_steps (run_id, organization_id, step_key, position, type, agent_slug, status, depends_on,
        pending_dependencies, max_attempts, next_attempt_at, priority, timeout_ms, reversible, rollback)
     SELECT $1, $2, s.key, s.position, s.type, s.agent, CASE WHEN s.deps = 0 THEN 'ready' ELSE 'pending' END,
            ARRAY(SELECT jsonb_array_elements_text(s.depends_on)), s.deps, s.max_attempts,
            CASE WHEN s.deps = 0 THEN now() END, $3, s.timeout_ms, s.reversible, s.rollback
       FROM unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::jsonb[], $9::int[], $10::int[], $11::int[], $12::bool[], $13::jsonb[])
         AS s(key, position, type, agent, depends_on, deps, max_attempts, timeout_ms, reversible, rollback)
      ${ifRunInserted ? 'WHERE EXISTS (SELECT 1 FROM orchestration_runs r WHERE r.id = $1)' : ''}
     RETURNING ${claimableColumns('orchestration_steps')}, status, position
     )
     SELECT ${claimableColumns('i')} FROM inserted i WHERE i.status = 'ready' ORDER BY i.position`,
    [
      runId,
      run.organizationId,
      run.priority,
      steps.map((s) => s.spec.key),
      steps.map((s) => s.position),
      steps.map((s) => s.spec.type ?? 'agent'),
      steps.map((s) => s.spec.agent ?? null),
      steps.map((s) => JSON.stringify(s.dependsOn)),
      steps.map((s) => s.dependsOn.length),
      steps.map((s) => s.retry.maxAttempts),
      steps.map((s) => s.timeoutMs),
      steps.map((s) => s.spec.reversible ?? false),
      steps.map((s) => (s.spec.rollback ? JSON.stringify(s.spec.rollback) : null)),
    ],
  );
  return rows;
}

/**
 * Inserts run and steps and pushes the first events (run.created, run.started, step.ready per ready step) onto
 * `events` for the caller to append; returns null when the idempotency key is taken.
 */
export async function createRunRows(
  client: Queryable,
  run: NewRunRow,
  events: NewEvent[],
): Promise<{ id: string; ready: ClaimableStep[]; row: InsertedRun } | null> {
  const id = randomUUID();
  // One round trip: with a key, the steps are inserted only if the run was (not on a conflict with the key's first run).
  const [inserted, ready] = await together([insertRun(client, run, id), insertSteps(client, id, run, run.idempotencyKey !== null)]);
  if (!inserted) return null;
  const base = { runId: inserted.id, organizationId: run.organizationId };
  events.push(
    {
      ...base,
      type: 'run.created',
      payload: { definition: run.definition.slug, version: run.definition.version, input: run.input, parentRunId: run.parentRunId },
    },
    { ...base, type: 'run.started', payload: {} },
    ...ready.map((step): NewEvent => ({ ...base, type: 'step.ready', stepKey: step.step_key, payload: { attempt: 1 } })),
  );
  return { id: inserted.id, ready, row: inserted };
}
