/**
 * SQL of claiming. Invariant kept with the claimer (worker/step-claimer.ts): every change to a run's steps
 * happens while holding that run's row lock, taken before any step row, so claims, completions, cancels
 * and manual interventions of one run are serialized and never deadlock on each other.
 */
import type { Queryable } from './engine-database.js';

export interface ReadyCandidate {
  id: string;
  run_id: string;
}

/** Due ready steps, best first; read without locks (the run lock taken next decides). */
export async function findReadyCandidates(client: Queryable, limit: number): Promise<ReadyCandidate[]> {
  const { rows } = await client.query<ReadyCandidate>(
    `SELECT id, run_id FROM orchestration_steps
      WHERE status = 'ready' AND next_attempt_at <= now()
      ORDER BY priority DESC, next_attempt_at
      LIMIT $1`,
    [limit],
  );
  return rows;
}

export interface LockedRun {
  id: string;
  organization_id: string;
  definition_id: string;
  input: unknown;
  max_concurrency: number | null;
  /** 0 for a root run (a sub-orchestration step's children are one deeper). */
  depth: number;
  /** A child run's parent (its step results share the parent's lane, see EngineWorker.laneOf); null for a root run. */
  parent_run_id: string | null;
  /** What the run may spend, and has spent (see worker/budget-guard.ts). */
  budget: RunBudget | null;
  usage_total_tokens: number;
  usage_cost_usd: number;
  /** The conversation (A2A contextId) of the run, if any (`{{ context.* }}` templates read it). */
  context_id: string | null;
}

/** A run's budget as stored: its limits, and per-agent limits raised by decisions. */
export interface RunBudget {
  maxTokens?: number;
  maxCostUsd?: number;
  onExceeded?: 'fail' | 'approval';
  agents?: Record<string, { maxTokens?: number; maxCostUsd?: number }>;
}

/** The budget columns of a run, for the statements that hand runs to a claim. */
export const RUN_BUDGET_COLUMNS =
  'budget, (usage_input_tokens + usage_output_tokens)::float8 AS usage_total_tokens, usage_cost_usd::float8 AS usage_cost_usd, context_id';

/** What an agent has spent within each of the given runs (its completed attempts' usage). */
export async function agentUsageInRuns(client: Queryable, runIds: string[], agentSlug: string): Promise<Map<string, { tokens: number; costUsd: number }>> {
  const { rows } = await client.query<{ run_id: string; tokens: number; cost: number }>(
    `SELECT run_id, coalesce(sum((usage->>'totalTokens')::float8), 0) AS tokens, coalesce(sum((usage->>'costUsd')::float8), 0) AS cost
       FROM orchestration_steps WHERE run_id = ANY($1::uuid[]) AND agent_slug = $2 AND usage IS NOT NULL GROUP BY run_id`,
    [runIds, agentSlug],
  );
  return new Map(rows.map((r) => [r.run_id, { tokens: r.tokens, costUsd: r.cost }]));
}

/**
 * Locks up to `most` of the runs (in the order given: best candidates first) that can take work, skipping runs another
 * instance is working on right now. Locking no more runs than the claim can fill leaves the rest of the backlog to the
 * other workers' claims, which would otherwise skip the same locked runs and find nothing. (SKIP LOCKED never waits, so
 * this order cannot deadlock with the id order every waiting lock uses.)
 */
export async function lockRunsForClaim(client: Queryable, runIds: string[], most: number): Promise<LockedRun[]> {
  const { rows } = await client.query<LockedRun>(
    `SELECT id, organization_id, definition_id, input, max_concurrency, depth, parent_run_id, ${RUN_BUDGET_COLUMNS} FROM orchestration_runs
      WHERE id = ANY($1::uuid[]) AND status IN ('running', 'awaiting_approval')
      ORDER BY array_position($1::uuid[], id) FOR NO KEY UPDATE SKIP LOCKED LIMIT $2`,
    [runIds, most],
  );
  return rows;
}

export interface ClaimableStep {
  id: string;
  run_id: string;
  step_key: string;
  agent_slug: string | null;
  type: string;
  attempt: number;
  manual_input: unknown;
  depends_on: string[];
  /**
   * Dependencies the caller's transaction completed that the row does not count yet: a released step that is started
   * (or made ready) in the same transaction gets one row version, the count-down riding with its start (see
   * releaseDependents). Absent: none.
   */
  uncounted?: number;
}

/** The columns of a ClaimableStep of steps aliased `alias`, for statements that hand steps to a claim (RETURNING). */
export function claimableColumns(alias: string): string {
  return ['id', 'run_id', 'step_key', 'agent_slug', 'type', 'attempt', 'manual_input', 'depends_on'].map((c) => `${alias}.${c}`).join(', ');
}

/** Ready, due steps of the given runs, best first (stable once the caller holds the runs' locks). */
export async function readySteps(client: Queryable, runIds: string[]): Promise<ClaimableStep[]> {
  const { rows } = await client.query<ClaimableStep>(
    `SELECT ${claimableColumns('s')} FROM orchestration_steps s
      WHERE run_id = ANY($1::uuid[]) AND status = 'ready' AND next_attempt_at <= now()
      ORDER BY priority DESC, next_attempt_at, position`,
    [runIds],
  );
  return rows;
}

export async function runningCountsByRun(client: Queryable, runIds: string[]): Promise<Map<string, number>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await client.query<{ run_id: string; n: number }>(
    `SELECT run_id, count(*)::int AS n FROM orchestration_steps WHERE run_id = ANY($1::uuid[]) AND status = 'running' GROUP BY run_id`,
    [runIds],
  );
  return new Map(rows.map((r) => [r.run_id, r.n]));
}

/**
 * Running steps of one agent across every instance. The transaction-scoped advisory lock serialises
 * claimers of the same limited agent, so two instances cannot both see the last free slot.
 */
export async function lockAndCountAgent(client: Queryable, organizationId: string, agentSlug: string): Promise<number> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`agent:${organizationId}:${agentSlug}`]);
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM orchestration_steps WHERE organization_id = $1 AND agent_slug = $2 AND status = 'running'`,
    [organizationId, agentSlug],
  );
  return rows[0].n;
}

/** Outputs of finished steps that templates of the claimed steps may read. */
export async function upstreamOutputs(
  client: Queryable,
  runIds: string[],
  stepKeys: string[],
): Promise<{ run_id: string; step_key: string; output: unknown }[]> {
  if (runIds.length === 0) return [];
  const { rows } = await client.query<{ run_id: string; step_key: string; output: unknown }>(
    `SELECT s.run_id, s.step_key, s.output FROM orchestration_steps s
       JOIN unnest($1::uuid[], $2::text[]) AS k(run_id, step_key) ON s.run_id = k.run_id AND s.step_key = k.step_key
      WHERE s.status IN ('completed', 'skipped')`,
    [runIds, stepKeys],
  );
  return rows;
}

export interface StartedStep {
  id: string;
  attempt: number;
}

/** Marks the chosen steps running under this worker's lease, storing the input each is run with. */
export async function startSteps(
  client: Queryable,
  workerId: string,
  leaseMs: number,
  ids: string[],
  inputs: unknown[],
  /** The agent each step was routed to (capability or fallback), recorded as its agent_slug; null keeps the step's. */
  routedTo: (string | null)[] = [],
  /** Each step's ClaimableStep.uncounted (counted down here; absent: 0). */
  uncounted: (number | undefined)[] = [],
): Promise<StartedStep[]> {
  const { rows } = await client.query<StartedStep>(
    `UPDATE orchestration_steps s
        SET status = 'running', attempt = s.attempt + 1, lease_owner = $1,
            lease_expires_at = now() + make_interval(secs => $2::double precision / 1000),
            started_at = now(), updated_at = now(), input = v.input, agent_slug = COALESCE(v.agent_slug, s.agent_slug),
            pending_dependencies = s.pending_dependencies - v.uncounted,
            next_attempt_at = CASE WHEN v.uncounted > 0 THEN now() ELSE s.next_attempt_at END
       FROM unnest($3::uuid[], $4::jsonb[], $5::text[], $6::int[]) AS v(id, input, agent_slug, uncounted)
      WHERE s.id = v.id AND (s.status = 'ready' OR (s.status = 'pending' AND s.pending_dependencies - v.uncounted <= 0))
      RETURNING s.id, s.attempt`,
    [workerId, leaseMs, ids, inputs.map((i) => JSON.stringify(i ?? null)), ids.map((_, i) => routedTo[i] ?? null), ids.map((_, i) => uncounted[i] ?? 0)],
  );
  return rows;
}

/** Extends the leases this worker still holds; returns the ids it still holds (the others were lost). */
export async function renewLeases(client: Queryable, workerId: string, leaseMs: number, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await client.query<{ id: string }>(
    `UPDATE orchestration_steps SET lease_expires_at = now() + make_interval(secs => $2::double precision / 1000)
      WHERE id = ANY($3::uuid[]) AND status = 'running' AND lease_owner = $1
      RETURNING id`,
    [workerId, leaseMs, ids],
  );
  return new Set(rows.map((r) => r.id));
}

export interface ExpiredLease {
  id: string;
  run_id: string;
  organization_id: string;
  attempt: number;
  lease_owner: string;
}

/** Steps whose lease ran out (their worker died or stalled), oldest first. */
export async function findExpiredLeases(client: Queryable, limit: number): Promise<ExpiredLease[]> {
  const { rows } = await client.query<ExpiredLease>(
    `SELECT id, run_id, organization_id, attempt, lease_owner FROM orchestration_steps
      WHERE status = 'running' AND lease_expires_at < now()
      ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  return rows;
}
