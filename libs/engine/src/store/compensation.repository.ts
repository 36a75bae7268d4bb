/**
 * SQL of saga compensation: the completed reversible steps of a failing run, the rollback steps that undo them (one
 * chain, latest completion first), and the run row while it compensates. The caller holds the run locks.
 */
import type { ClaimableStep } from './step-claim.repository.js';
import { claimableColumns } from './step-claim.repository.js';
import type { Queryable } from './engine-database.js';

export interface ReversibleStep {
  run_id: string;
  step_key: string;
}

/** Completed reversible steps of the runs, latest completion first (the order they are undone in). */
export async function completedReversibleSteps(client: Queryable, runIds: string[]): Promise<ReversibleStep[]> {
  if (runIds.length === 0) return [];
  const { rows } = await client.query<ReversibleStep>(
    `SELECT run_id, step_key FROM orchestration_steps
      WHERE run_id = ANY($1::uuid[]) AND reversible AND status = 'completed' AND type <> 'rollback'
      ORDER BY run_id, completed_at DESC, position DESC`,
    [runIds],
  );
  return rows;
}

export interface NewRollbackStep {
  runId: string;
  organizationId: string;
  key: string;
  compensates: string;
  agent: string;
  position: number;
  /** The rollback that runs before this one (null: the first, ready at once). */
  after: string | null;
  maxAttempts: number;
  timeoutMs: number | null;
}

/** Inserts rollback steps chained by `after`; returns the first of each run (ready), as a claim would start them. */
export async function insertRollbackSteps(client: Queryable, steps: NewRollbackStep[]): Promise<ClaimableStep[]> {
  if (steps.length === 0) return [];
  const { rows } = await client.query<ClaimableStep>(
    `INSERT INTO orchestration_steps (run_id, organization_id, step_key, position, type, agent_slug, status, depends_on,
        pending_dependencies, max_attempts, next_attempt_at, timeout_ms, compensates)
     SELECT s.run_id, s.org, s.key, s.position, 'rollback', s.agent, CASE WHEN s.after IS NULL THEN 'ready' ELSE 'pending' END,
            CASE WHEN s.after IS NULL THEN '{}'::text[] ELSE ARRAY[s.after] END, CASE WHEN s.after IS NULL THEN 0 ELSE 1 END,
            s.max_attempts, CASE WHEN s.after IS NULL THEN now() END, s.timeout_ms, s.compensates
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[], $8::int[], $9::text[])
         AS s(run_id, org, key, position, agent, after, max_attempts, timeout_ms, compensates)
     RETURNING ${claimableColumns('orchestration_steps')}`,
    [
      steps.map((s) => s.runId),
      steps.map((s) => s.organizationId),
      steps.map((s) => s.key),
      steps.map((s) => s.position),
      steps.map((s) => s.agent),
      steps.map((s) => s.after),
      steps.map((s) => s.maxAttempts),
      steps.map((s) => s.timeoutMs),
      steps.map((s) => s.compensates),
    ],
  );
  return rows.filter((r) => r.depends_on.length === 0);
}

/** The run compensates: running again (an aborted run was awaiting approval), with the end it will reach remembered. */
export async function markCompensating(
  client: Queryable,
  runs: { id: string; status: 'failed' | 'cancelled'; error: unknown; steps: number }[],
): Promise<void> {
  if (runs.length === 0) return;
  await client.query(
    `UPDATE orchestration_runs r
        SET status = 'running', compensation = 'running', compensation_status = v.status, compensation_error = v.error,
            steps_remaining = v.steps, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[]) AS v(id, status, error, steps) WHERE r.id = v.id`,
    [runs.map((r) => r.id), runs.map((r) => r.status), runs.map((r) => (r.error == null ? null : JSON.stringify(r.error))), runs.map((r) => r.steps)],
  );
}

/** Makes ready the rollback steps that wait on the given finished ones (the next link of each chain). */
export async function releaseNextRollbacks(client: Queryable, done: { runId: string; key: string }[]): Promise<ClaimableStep[]> {
  if (done.length === 0) return [];
  const { rows } = await client.query<ClaimableStep>(
    `UPDATE orchestration_steps s
        SET pending_dependencies = 0, status = 'ready', next_attempt_at = now(), updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS v(run_id, key)
      WHERE s.run_id = v.run_id AND s.type = 'rollback' AND s.status = 'pending' AND v.key = ANY(s.depends_on)
      RETURNING ${claimableColumns('s')}`,
    [done.map((d) => d.runId), done.map((d) => d.key)],
  );
  return rows;
}
