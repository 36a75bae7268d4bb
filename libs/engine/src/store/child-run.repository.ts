/**
 * SQL of sub-orchestrations: a parent step that waits on child runs, its children plan and counters, and the
 * children themselves. Every function expects the caller to hold the parent run's lock (children are created,
 * counted and read under it), as for every other change to a run's steps.
 */
import { TERMINAL_RUN_STATUSES, type JsonValue, type RunStatus, type StepStatus } from '#core';
import type { Queryable } from './engine-database.js';

/** What a waiting orchestration step keeps of its plan (the `spawn` column): enough to start its next children. */
export interface SpawnPlan {
  definitionId: string;
  slug: string;
  version: number;
  /** A forEach: the output is the array of child outputs; otherwise the one child's output. */
  forEach: boolean;
  concurrency: number;
  failFast: boolean;
}

export interface WaitingStart {
  id: string;
  /** The child inputs (one per item for a forEach), kept as the step's input. */
  input: JsonValue;
  spawn: SpawnPlan;
  total: number;
  started: number;
  /** The step's ClaimableStep.uncounted (counted down with its start). */
  uncounted?: number;
}

/** Starts orchestration steps: `waiting` on their children (no lease: no worker holds them), attempt counted. */
export async function startWaitingSteps(client: Queryable, starts: WaitingStart[]): Promise<{ id: string; attempt: number }[]> {
  if (starts.length === 0) return [];
  const { rows } = await client.query<{ id: string; attempt: number }>(
    `UPDATE orchestration_steps s
        SET status = 'waiting', attempt = s.attempt + 1, lease_owner = NULL, lease_expires_at = NULL,
            started_at = now(), updated_at = now(), input = v.input, spawn = v.spawn, error = NULL,
            children_total = v.total, children_started = v.started, children_finished = 0,
            pending_dependencies = s.pending_dependencies - v.uncounted,
            next_attempt_at = CASE WHEN v.uncounted > 0 THEN now() ELSE s.next_attempt_at END
       FROM unnest($1::uuid[], $2::jsonb[], $3::jsonb[], $4::int[], $5::int[], $6::int[]) AS v(id, input, spawn, total, started, uncounted)
      WHERE s.id = v.id AND (s.status = 'ready' OR (s.status = 'pending' AND s.pending_dependencies - v.uncounted <= 0))
      RETURNING s.id, s.attempt`,
    [
      starts.map((s) => s.id),
      starts.map((s) => JSON.stringify(s.input)),
      starts.map((s) => JSON.stringify(s.spawn)),
      starts.map((s) => s.total),
      starts.map((s) => s.started),
      starts.map((s) => s.uncounted ?? 0),
    ],
  );
  return rows;
}

/** A definition version a step may start children of (active only, like a run started over the API). */
export interface ChildDefinitionRow {
  id: string;
  slug: string;
  version: number;
  status: string;
  spec: never;
}

export async function childDefinition(
  client: Queryable,
  organizationId: string,
  slug: string,
  version: number | undefined,
): Promise<ChildDefinitionRow | null> {
  const { rows } = await client.query<ChildDefinitionRow>(
    `SELECT id, slug, version, status, spec FROM orchestration_definitions
      WHERE organization_id = $1 AND slug = $2 AND ($3::int IS NULL OR version = $3) AND status = 'active'
      ORDER BY version DESC LIMIT 1`,
    [organizationId, slug, version ?? null],
  );
  return rows[0] ?? null;
}

/** A waiting parent step, as settling its finished children needs it. */
export interface WaitingStep {
  id: string;
  run_id: string;
  step_key: string;
  status: StepStatus;
  attempt: number;
  max_attempts: number;
  lease_losses: number;
  input: JsonValue;
  spawn: SpawnPlan | null;
  children_total: number;
  children_started: number;
  children_finished: number;
}

export async function waitingSteps(client: Queryable, ids: string[]): Promise<Map<string, WaitingStep>> {
  const { rows } = await client.query<WaitingStep>(
    `SELECT id, run_id, step_key, status, attempt, max_attempts, lease_losses, input, spawn, children_total, children_started, children_finished
       FROM orchestration_steps WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** Stores the children counters of parent steps (finished and started so far). */
export async function updateChildCounters(client: Queryable, counters: { id: string; started: number; finished: number }[]): Promise<void> {
  if (counters.length === 0) return;
  await client.query(
    `UPDATE orchestration_steps s SET children_started = v.started, children_finished = v.finished, updated_at = now()
       FROM unnest($1::uuid[], $2::int[], $3::int[]) AS v(id, started, finished) WHERE s.id = v.id`,
    [counters.map((c) => c.id), counters.map((c) => c.started), counters.map((c) => c.finished)],
  );
}

export interface ChildResult {
  id: string;
  item_index: number | null;
  status: RunStatus;
  output: JsonValue;
  error: JsonValue;
}

/** The children of one attempt of a parent step, in item order. */
export async function childResults(client: Queryable, stepId: string, attempt: number): Promise<ChildResult[]> {
  const { rows } = await client.query<ChildResult>(
    `SELECT id, item_index, status, output, error FROM orchestration_runs
      WHERE parent_step_id = $1 AND parent_attempt = $2 ORDER BY item_index NULLS FIRST, created_at`,
    [stepId, attempt],
  );
  return rows;
}

/** Unfinished child runs of the given runs (to cancel with them), or of the given parent steps. */
export async function liveChildren(client: Queryable, of: { runIds?: string[]; stepIds?: string[] }): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM orchestration_runs
      WHERE (parent_run_id = ANY($1::uuid[]) OR parent_step_id = ANY($2::uuid[])) AND NOT (status = ANY($3::text[]))`,
    [of.runIds ?? [], of.stepIds ?? [], TERMINAL_RUN_STATUSES],
  );
  return rows.map((r) => r.id);
}
