/**
 * SQL of checkpoints. Callers hold the run's lock; deciding also locks the approval row, so two decisions on
 * one approval serialize and the second sees it resolved.
 */
import type { JsonValue, StepStatus } from '#core';
import type { Queryable } from './engine-database.js';
import { claimableColumns } from './step-claim.repository.js';
import { RUN_ROW_COLUMNS, type ReleasedStep, type RunRow } from './step-transition.repository.js';

export interface NewApproval {
  organizationId: string;
  runId: string;
  stepId: string;
  stepKey: string;
  attempt: number;
  prompt: string;
  payload: JsonValue;
  decisions: string[];
  roles: string[];
  assignees: string[];
  quorum: number;
  onTimeout: string;
  timeoutMs: number | null;
  escalateAfterMs: number | null;
}

export async function insertApprovals(
  client: Queryable,
  approvals: NewApproval[],
): Promise<{ id: string; step_id: string; expires_at: Date | null }[]> {
  if (approvals.length === 0) return [];
  const { rows } = await client.query<{ id: string; step_id: string; expires_at: Date | null }>(
    `INSERT INTO human_approvals (organization_id, run_id, step_id, step_key, attempt, prompt, payload, decisions, roles, assignees, quorum,
        on_timeout, expires_at, escalate_at)
     SELECT a.organization_id, a.run_id, a.step_id, a.step_key, a.attempt, a.prompt, a.payload,
            ARRAY(SELECT jsonb_array_elements_text(a.decisions)), ARRAY(SELECT jsonb_array_elements_text(a.roles)),
            ARRAY(SELECT jsonb_array_elements_text(a.assignees)), a.quorum, a.on_timeout,
            CASE WHEN a.timeout_ms IS NULL THEN NULL ELSE now() + make_interval(secs => a.timeout_ms::double precision / 1000) END,
            CASE WHEN a.escalate_ms IS NULL THEN NULL ELSE now() + make_interval(secs => a.escalate_ms::double precision / 1000) END
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::jsonb[],
                   $11::int[], $12::text[], $13::bigint[], $14::bigint[])
         AS a(organization_id, run_id, step_id, step_key, attempt, prompt, payload, decisions, roles, assignees, quorum, on_timeout, timeout_ms, escalate_ms)
     RETURNING id, step_id, expires_at`,
    [
      approvals.map((a) => a.organizationId),
      approvals.map((a) => a.runId),
      approvals.map((a) => a.stepId),
      approvals.map((a) => a.stepKey),
      approvals.map((a) => a.attempt),
      approvals.map((a) => a.prompt),
      approvals.map((a) => JSON.stringify(a.payload)),
      approvals.map((a) => JSON.stringify(a.decisions)),
      approvals.map((a) => JSON.stringify(a.roles)),
      approvals.map((a) => JSON.stringify(a.assignees)),
      approvals.map((a) => a.quorum),
      approvals.map((a) => a.onTimeout),
      approvals.map((a) => a.timeoutMs),
      approvals.map((a) => a.escalateAfterMs),
    ],
  );
  return rows;
}

export type ApprovalStatus = 'pending' | 'resolved' | 'expired';

/** A row of `human_approvals` as the engine reads it; each read picks the columns it needs. */
export interface HumanApprovalColumns {
  id: string;
  organization_id: string;
  run_id: string;
  step_id: string;
  step_key: string;
  status: ApprovalStatus;
  decision: string | null;
  prompt: string;
  payload: JsonValue;
  decisions: string[];
  roles: string[];
  assignees: string[];
  quorum: number;
  on_timeout: 'abort' | 'continue' | 'skip';
  modifications: JsonValue;
  comment: string | null;
  requested_at: Date;
  expires_at: Date | null;
  escalated_at: Date | null;
  decided_at: Date | null;
  decided_by: string | null;
}

export type ApprovalRow = Pick<
  HumanApprovalColumns,
  | 'id'
  | 'organization_id'
  | 'run_id'
  | 'step_id'
  | 'step_key'
  | 'status'
  | 'decision'
  | 'prompt'
  | 'payload'
  | 'decisions'
  | 'roles'
  | 'assignees'
  | 'quorum'
  | 'on_timeout'
  | 'expires_at'
> & { expired: boolean };

const APPROVAL_COLUMNS = `id, organization_id, run_id, step_id, step_key, status, decision, prompt, payload, decisions, roles, assignees, quorum,
  on_timeout, expires_at, coalesce(expires_at <= now(), false) AS expired`;

export async function lockApproval(client: Queryable, id: string): Promise<ApprovalRow | null> {
  const { rows } = await client.query<ApprovalRow>(`SELECT ${APPROVAL_COLUMNS} FROM human_approvals WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ?? null;
}

/**
 * Locks the run an approval of the organization belongs to (optionally only if it is `runId`'s): the run lock
 * comes first, as everywhere, and an approval's run never changes, so finding it needs no lock of its own.
 */
export async function lockRunOfApproval(
  client: Queryable,
  organizationId: string,
  approvalId: string,
  runId: string | null,
): Promise<RunRow | null> {
  const { rows } = await client.query<RunRow>(
    `SELECT ${RUN_ROW_COLUMNS} FROM orchestration_runs
      WHERE id = (SELECT run_id FROM human_approvals WHERE id = $2 AND organization_id = $1 AND ($3::uuid IS NULL OR run_id = $3))
      FOR UPDATE`,
    [organizationId, approvalId, runId],
  );
  return rows[0] ?? null;
}

export interface DecisionStep {
  id: string;
  status: StepStatus;
  attempt: number;
  input: JsonValue;
  output: JsonValue;
}

export interface LockedApproval extends ApprovalRow {
  step: DecisionStep | null;
  /** Other approvals of the run still pending: with none, deciding this one resumes the run. */
  others_pending: number;
}

/**
 * Locks an approval and reads its step and how many other approvals of its run are pending (the caller holds the
 * run's lock, which guards the steps and the opening of approvals).
 */
export async function lockApprovalWithStep(client: Queryable, id: string): Promise<LockedApproval | null> {
  const { rows } = await client.query<LockedApproval>(
    `SELECT ${APPROVAL_COLUMNS},
            (SELECT jsonb_build_object('id', s.id, 'status', s.status, 'attempt', s.attempt, 'input', s.input, 'output', s.output)
               FROM orchestration_steps s WHERE s.id = human_approvals.step_id) AS step,
            (SELECT count(*)::int FROM human_approvals o
              WHERE o.run_id = human_approvals.run_id AND o.status = 'pending' AND o.id <> human_approvals.id) AS others_pending
       FROM human_approvals WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return rows[0] ?? null;
}

export async function pendingApprovalsOfRun(client: Queryable, runId: string): Promise<ApprovalRow[]> {
  const { rows } = await client.query<ApprovalRow>(
    `SELECT ${APPROVAL_COLUMNS} FROM human_approvals WHERE run_id = $1 AND status = 'pending' ORDER BY requested_at`,
    [runId],
  );
  return rows;
}

export async function continueVotes(client: Queryable, approvalId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM approval_decisions WHERE approval_id = $1 AND decision = 'continue'`,
    [approvalId],
  );
  return rows[0].n;
}

export interface NewDecision {
  organizationId: string;
  approvalId: string;
  actorType: 'user' | 'api_key' | 'system';
  actorId: string | null;
  decidedBy: string | null;
  decision: string;
  modifications: JsonValue | null;
  diff: JsonValue;
  payloadSeen: JsonValue;
  comment: string | null;
  reason: 'human' | 'timeout';
}

/**
 * Records a decision. With `closeAs`, the same statement also closes the approval and, with `resume`, puts its run
 * (awaiting approval) back to running: the caller passes it when no other approval of the run is pending. A quorum
 * vote that may not be the last passes null and, once the votes are counted, uses closeApproval and setRunStatus.
 */
export async function recordDecision(
  client: Queryable,
  d: NewDecision,
  closeAs: 'resolved' | 'expired' | null,
  resume: boolean,
): Promise<void> {
  await client.query(
    `WITH decided AS (
       INSERT INTO approval_decisions (organization_id, approval_id, actor_type, actor_id, decided_by, decision, modifications, modifications_diff,
          payload_seen, comment, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       RETURNING approval_id
     ), closed AS (
       UPDATE human_approvals SET status = $12, decision = $6, decided_by = $5, decided_at = now(), modifications = $7, comment = $10
        WHERE $12::text IS NOT NULL AND id = (SELECT approval_id FROM decided) AND status = 'pending'
        RETURNING run_id
     )
     UPDATE orchestration_runs SET status = 'running', updated_at = now()
      WHERE $13 AND id = (SELECT run_id FROM closed) AND status = 'awaiting_approval'`,
    [
      d.organizationId,
      d.approvalId,
      d.actorType,
      d.actorId,
      d.decidedBy,
      d.decision,
      d.modifications === null ? null : JSON.stringify(d.modifications),
      JSON.stringify(d.diff),
      JSON.stringify(d.payloadSeen),
      d.comment,
      d.reason,
      closeAs,
      resume,
    ],
  );
}

/** Resolves (or expires) a pending approval; the final state of its row, which no update may change afterwards. */
export async function closeApproval(
  client: Queryable,
  id: string,
  status: 'resolved' | 'expired',
  decision: string | null,
  decidedBy: string | null,
  modifications: JsonValue | null,
  comment: string | null,
): Promise<void> {
  await client.query(
    `UPDATE human_approvals SET status = $2, decision = $3, decided_by = $4, decided_at = now(), modifications = $5, comment = $6
      WHERE id = $1 AND status = 'pending'`,
    [id, status, decision, decidedBy, modifications === null ? null : JSON.stringify(modifications), comment],
  );
}

/** Pending approvals of runs that ended are closed as expired (nobody can decide them any more). */
export async function expireApprovalsOfRuns(client: Queryable, runIds: string[]): Promise<void> {
  if (runIds.length === 0) return;
  await client.query(
    `UPDATE human_approvals SET status = 'expired', decided_at = now(), comment = 'run ended' WHERE run_id = ANY($1::uuid[]) AND status = 'pending'`,
    [runIds],
  );
}

export async function markEscalated(client: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE human_approvals SET escalated_at = now() WHERE id = $1 AND status = 'pending' AND escalated_at IS NULL`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

export async function dueApprovals(
  client: Queryable,
  limit: number,
): Promise<{ id: string; organization_id: string; run_id: string; kind: 'timeout' | 'escalate' }[]> {
  const { rows } = await client.query<{ id: string; organization_id: string; run_id: string; kind: 'timeout' | 'escalate' }>(
    `(SELECT id, organization_id, run_id, 'timeout' AS kind FROM human_approvals WHERE status = 'pending' AND expires_at <= now() ORDER BY expires_at LIMIT $1)
     UNION ALL
     (SELECT id, organization_id, run_id, 'escalate' AS kind FROM human_approvals
       WHERE status = 'pending' AND escalated_at IS NULL AND escalate_at <= now() ORDER BY escalate_at LIMIT $1)`,
    [limit],
  );
  return rows;
}

export async function nextApprovalDeadline(client: Queryable): Promise<Date | null> {
  const { rows } = await client.query<{ at: Date | null }>(
    `SELECT least((SELECT min(expires_at) FROM human_approvals WHERE status = 'pending'),
                  (SELECT min(escalate_at) FROM human_approvals WHERE status = 'pending' AND escalated_at IS NULL)) AS at`,
  );
  return rows[0]?.at ?? null;
}

export async function setRunStatus(client: Queryable, runId: string, status: 'running' | 'awaiting_approval'): Promise<void> {
  await client.query(`UPDATE orchestration_runs SET status = $2, updated_at = now() WHERE id = $1`, [runId, status]);
}

/** A retry decision: the step is ready for another attempt with `input`; returns it as a claim would start it. */
export async function readyForRetry(client: Queryable, stepId: string, input: JsonValue): Promise<ReleasedStep> {
  const { rows } = await client.query<ReleasedStep>(
    `UPDATE orchestration_steps s SET status = 'ready', output = NULL, manual_input = $2::jsonb, max_attempts = greatest(max_attempts, attempt + 1),
            next_attempt_at = now(), completed_at = NULL, updated_at = now()
      WHERE id = $1
      RETURNING ${claimableColumns('s')}`,
    [stepId, JSON.stringify(input)],
  );
  return rows[0];
}
