/**
 * SQL of manual intervention (retry, skip) and of reviving a failed run. Callers hold the run's lock.
 * These paths are rare, so they recompute from the step rows rather than count incrementally: simple and
 * always right, whatever state the run was left in.
 */
import { TERMINAL_STEP_STATUSES, type StepStatus } from '#core';
import type { Queryable } from './engine-database.js';

export interface ControlStepRow {
  id: string;
  step_key: string;
  status: StepStatus;
  attempt: number;
  max_attempts: number;
  error: unknown;
}

export async function stepByKey(client: Queryable, runId: string, stepKey: string): Promise<ControlStepRow | null> {
  const { rows } = await client.query<ControlStepRow>(
    `SELECT id, step_key, status, attempt, max_attempts, error FROM orchestration_steps WHERE run_id = $1 AND step_key = $2`,
    [runId, stepKey],
  );
  return rows[0] ?? null;
}

/** Steps cancelled because the run failed go back to pending, to be re-evaluated. */
export async function reviveCancelledSteps(client: Queryable, runId: string): Promise<void> {
  await client.query(
    `UPDATE orchestration_steps SET status = 'pending', completed_at = NULL, updated_at = now()
      WHERE run_id = $1 AND status = 'cancelled'`,
    [runId],
  );
}

export async function prepareRetry(client: Queryable, stepId: string, extraAttempts: number, manualInput: unknown): Promise<void> {
  await client.query(
    `UPDATE orchestration_steps
        SET status = 'pending', error = NULL, output = NULL, completed_at = NULL, lease_losses = 0,
            max_attempts = attempt + $2, manual_input = coalesce($3::jsonb, manual_input), updated_at = now()
      WHERE id = $1`,
    [stepId, extraAttempts, manualInput === undefined ? null : JSON.stringify(manualInput)],
  );
}

export async function markSkipped(client: Queryable, stepId: string, output: unknown): Promise<void> {
  await client.query(
    `UPDATE orchestration_steps
        SET status = 'skipped', output = $2::jsonb, error = NULL, lease_owner = NULL, lease_expires_at = NULL,
            completed_at = now(), updated_at = now()
      WHERE id = $1`,
    [stepId, output === undefined ? null : JSON.stringify(output)],
  );
}

/**
 * Recounts every pending step's unmet dependencies (completed and skipped ones are met); those with none
 * become ready. Returns the keys that became ready.
 */
export async function recomputePending(client: Queryable, runId: string): Promise<string[]> {
  const { rows } = await client.query<{ step_key: string; status: string }>(
    `UPDATE orchestration_steps s
        SET pending_dependencies = d.unmet,
            status = CASE WHEN d.unmet = 0 THEN 'ready' ELSE 'pending' END,
            next_attempt_at = CASE WHEN d.unmet = 0 THEN now() ELSE NULL END,
            updated_at = now()
       FROM (
         SELECT p.id, count(dep.step_key) FILTER (WHERE x.status IS NULL OR x.status NOT IN ('completed', 'skipped'))::int AS unmet
           FROM orchestration_steps p
           LEFT JOIN LATERAL unnest(p.depends_on) AS dep(step_key) ON true
           LEFT JOIN orchestration_steps x ON x.run_id = p.run_id AND x.step_key = dep.step_key
          WHERE p.run_id = $1 AND p.status = 'pending'
          GROUP BY p.id
       ) d
      WHERE s.id = d.id
      RETURNING s.step_key, s.status`,
    [runId],
  );
  return rows.filter((r) => r.status === 'ready').map((r) => r.step_key);
}

/** Sets the run running again with steps_remaining recounted; returns the new count. */
export async function reviveRun(client: Queryable, runId: string): Promise<number> {
  const { rows } = await client.query<{ steps_remaining: number }>(
    `UPDATE orchestration_runs r
        SET status = 'running', error = NULL, output = NULL, completed_at = NULL, updated_at = now(),
            steps_remaining = (SELECT count(*)::int FROM orchestration_steps s
                                WHERE s.run_id = r.id AND s.status <> ALL($2::text[]))
      WHERE r.id = $1
      RETURNING steps_remaining`,
    [runId, TERMINAL_STEP_STATUSES],
  );
  return rows[0].steps_remaining;
}

export async function recountRemaining(client: Queryable, runId: string): Promise<number> {
  const { rows } = await client.query<{ steps_remaining: number }>(
    `UPDATE orchestration_runs r
        SET steps_remaining = (SELECT count(*)::int FROM orchestration_steps s
                                WHERE s.run_id = r.id AND s.status <> ALL($2::text[])),
            updated_at = now()
      WHERE r.id = $1
      RETURNING steps_remaining`,
    [runId, TERMINAL_STEP_STATUSES],
  );
  return rows[0].steps_remaining;
}
