/**
 * SQL of step and run transitions after work finished (results, failures, lease expiry, manual actions).
 * Every function expects the caller to hold the affected runs' row locks (lockRuns) for the transaction.
 */
import { stepStatusesFrom, TERMINAL_STEP_STATUSES, type RunStatus, type StepStatus } from '#core';
import { notifyAfterCommit, type Queryable } from './engine-database.js';
import { claimableColumns, RUN_BUDGET_COLUMNS, type ClaimableStep, type RunBudget } from './step-claim.repository.js';

export interface RunRow {
  id: string;
  organization_id: string;
  definition_id: string;
  status: RunStatus;
  input: unknown;
  steps_remaining: number;
  parent_run_id: string | null;
  max_concurrency: number | null;
  /** 0 for a root run; a child is one deeper than its parent. */
  depth: number;
  /** For a child run: the step that created it, that step's attempt, and its forEach item. */
  parent_step_id: string | null;
  parent_attempt: number | null;
  item_index: number | null;
  /** The definition's `compensate`: a failure or abort first undoes its completed reversible steps. */
  compensate: boolean;
  /** `running` while those are undone; the end the run then reaches is compensation_status, with compensation_error. */
  compensation: 'running' | 'completed' | 'failed' | null;
  compensation_status: 'failed' | 'cancelled' | null;
  compensation_error: unknown;
  budget: RunBudget | null;
  usage_total_tokens: number;
  usage_cost_usd: number;
  context_id: string | null;
}

/** The columns of a RunRow, for every statement that locks runs. */
export const RUN_ROW_COLUMNS =
  'id, organization_id, definition_id, status, input, steps_remaining, parent_run_id, max_concurrency, depth, parent_step_id, parent_attempt, item_index, ' +
  `compensate, compensation, compensation_status, compensation_error, ${RUN_BUDGET_COLUMNS}`;

/** Adds what completed attempts used to their runs' totals (one statement for a batch). */
export async function addRunUsage(
  client: Queryable,
  usages: { runId: string; inputTokens: number; outputTokens: number; costUsd: number }[],
): Promise<void> {
  if (usages.length === 0) return;
  await client.query(
    `UPDATE orchestration_runs r
        SET usage_input_tokens = r.usage_input_tokens + v.i, usage_output_tokens = r.usage_output_tokens + v.o, usage_cost_usd = r.usage_cost_usd + v.c
       FROM (SELECT run_id, sum(i)::bigint AS i, sum(o)::bigint AS o, sum(c) AS c
               FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::numeric[]) AS u(run_id, i, o, c) GROUP BY run_id) v
      WHERE r.id = v.run_id`,
    [
      usages.map((u) => u.runId),
      usages.map((u) => Math.round(u.inputTokens)),
      usages.map((u) => Math.round(u.outputTokens)),
      usages.map((u) => u.costUsd),
    ],
  );
}

/** Raises a run's budget (a decision at a budget checkpoint): the new limits are merged over the stored ones. */
export async function raiseRunBudget(client: Queryable, runId: string, budget: RunBudget): Promise<void> {
  await client.query(
    `UPDATE orchestration_runs SET budget = coalesce(budget, '{}'::jsonb) || $2::jsonb, updated_at = now() WHERE id = $1`,
    [runId, JSON.stringify(budget)],
  );
}

/**
 * Locks runs top-down (by depth, then id), the order every waiting lock of runs is taken in: a parent is locked
 * before its children, so a cancel cascading down and a child's end reaching up (whose transaction locked the parent
 * first, see lockRunsForApply) never wait on each other in a cycle. Rows the transaction holds already are returned
 * without waiting.
 */
export async function lockRuns(client: Queryable, runIds: string[]): Promise<Map<string, RunRow>> {
  const { rows } = await client.query<RunRow>(
    `SELECT ${RUN_ROW_COLUMNS} FROM orchestration_runs
      WHERE id = ANY($1::uuid[]) ORDER BY depth, id FOR NO KEY UPDATE`,
    [runIds],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** Locks a run and its ancestors, top-down (an operator's action on a child may end it, which reaches its parent). */
export async function lockRunWithAncestors(client: Queryable, runId: string): Promise<Map<string, RunRow>> {
  const { rows } = await client.query<RunRow>(
    `WITH RECURSIVE chain(id, parent) AS (
       SELECT id, parent_run_id FROM orchestration_runs WHERE id = $1
       UNION SELECT r.id, r.parent_run_id FROM orchestration_runs r JOIN chain c ON r.id = c.parent
     )
     SELECT ${RUN_ROW_COLUMNS} FROM orchestration_runs WHERE id IN (SELECT id FROM chain) ORDER BY depth, id FOR NO KEY UPDATE`,
    [runId],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * Locks the runs of a result batch, and before them (top-down) the ancestors a result may reach: the parent of a run
 * the batch may end (its last steps finish, or one fails), that parent's parent when its last step is the one waiting,
 * and so on. Read without locks to decide, so it may take one lock too many or too few; too few costs a later,
 * bottom-up lock (a possible deadlock, which the transaction's retry absorbs), never correctness.
 * The ids are one array, read by the primary key: `id = ANY($1) OR id IN (SELECT id FROM up)` has no index plan, and
 * scanned the whole runs table on every result batch that may end a run (the soak's drift as the table grew).
 */
export async function lockRunsForApply(client: Queryable, runIds: string[], mayEnd: Map<string, number>): Promise<Map<string, RunRow>> {
  const { rows } = await client.query<RunRow>(
    `WITH RECURSIVE up(id) AS (
       SELECT r.parent_run_id FROM orchestration_runs r
         JOIN unnest($2::uuid[], $3::int[]) AS v(id, n) ON v.id = r.id
        WHERE r.parent_run_id IS NOT NULL AND r.steps_remaining <= v.n
       UNION
       SELECT r.parent_run_id FROM orchestration_runs r JOIN up ON r.id = up.id
        WHERE r.parent_run_id IS NOT NULL AND r.steps_remaining <= 1
     )
     SELECT ${RUN_ROW_COLUMNS} FROM orchestration_runs
      WHERE id = ANY($1::uuid[] || ARRAY(SELECT id FROM up)) ORDER BY depth, id FOR NO KEY UPDATE`,
    [runIds, [...mayEnd.keys()], [...mayEnd.values()]],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export interface StepRow {
  id: string;
  run_id: string;
  step_key: string;
  /** agent | orchestration | approval | rollback */
  type: string;
  status: StepStatus;
  attempt: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_losses: number;
  lease_expired: boolean;
}

export async function stepsById(client: Queryable, ids: string[]): Promise<Map<string, StepRow>> {
  const { rows } = await client.query<StepRow>(
    `SELECT id, run_id, step_key, type, status, attempt, max_attempts, lease_owner, lease_losses, coalesce(lease_expires_at < now(), false) AS lease_expired
       FROM orchestration_steps WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export interface StepUpdate {
  id: string;
  status: StepStatus;
  attempt: number;
  leaseLosses: number;
  output: unknown;
  error: unknown;
  /** Delay before a retry becomes due (ready steps only). */
  delayMs: number | null;
}

/** The step statuses a run's end cancels: every one the state machine lets go to `cancelled`. */
const OPEN_STEP_STATUSES = stepStatusesFrom('cancelled');

/** The UPDATE of updateSteps, its parameters numbered from $`first` (seven arrays, then the terminal statuses). */
function stepUpdateSql(first: number): string {
  const $ = (i: number) => `$${first + i}`;
  return `UPDATE orchestration_steps s
        SET status = v.status, attempt = v.attempt, lease_losses = v.lease_losses,
            output = v.output, error = v.error,
            next_attempt_at = CASE WHEN v.status = 'ready' THEN now() + make_interval(secs => coalesce(v.delay_ms, 0)::double precision / 1000) ELSE s.next_attempt_at END,
            lease_owner = NULL, lease_expires_at = NULL,
            completed_at = CASE WHEN v.status = ANY(${$(7)}::text[]) THEN now() ELSE NULL END,
            updated_at = now()
       FROM unnest(${$(0)}::uuid[], ${$(1)}::text[], ${$(2)}::int[], ${$(3)}::int[], ${$(4)}::jsonb[], ${$(5)}::jsonb[], ${$(6)}::int[])
         AS v(id, status, attempt, lease_losses, output, error, delay_ms)
      WHERE s.id = v.id`;
}

function stepUpdateParams(updates: StepUpdate[]): unknown[] {
  return [
    updates.map((u) => u.id),
    updates.map((u) => u.status),
    updates.map((u) => u.attempt),
    updates.map((u) => u.leaseLosses),
    updates.map((u) => (u.output === undefined ? null : JSON.stringify(u.output))),
    updates.map((u) => (u.error === undefined || u.error === null ? null : JSON.stringify(u.error))),
    updates.map((u) => u.delayMs),
    TERMINAL_STEP_STATUSES,
  ];
}

/** Applies per-step outcomes in one statement; terminal states release the lease and stamp completed_at. */
export async function updateSteps(client: Queryable, updates: StepUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await client.query(stepUpdateSql(1), stepUpdateParams(updates));
}

/** Stores what completed attempts used (tokens, cost: see AgentUsage) on their steps, one statement for the batch. */
export async function recordStepUsage(client: Queryable, usages: { id: string; usage: unknown }[]): Promise<void> {
  if (usages.length === 0) return;
  await client.query(
    `UPDATE orchestration_steps s SET usage = v.usage FROM unnest($1::uuid[], $2::jsonb[]) AS v(id, usage) WHERE s.id = v.id`,
    [usages.map((u) => u.id), usages.map((u) => JSON.stringify(u.usage))],
  );
}

/** A step whose last dependency was just released: what a claim needs to start it, in claim order. */
export type ReleasedStep = ClaimableStep;

/**
 * The CTEs of releaseDependents, parameters numbered from $`first` (the three arrays of (run, step key, n)): `released`
 * holds the steps whose last dependencies these are, with what a claim needs, `uncounted`, priority and position.
 * With `promote` every pending dependent is counted down and those reaching zero become ready. Without, only the
 * dependents that still wait for others are counted down here: the released ones are left as they are, for the
 * caller to start (or make ready) with the count-down in the same transaction, one row version instead of two (the
 * second update of a row in one transaction is not HOT-eligible for the release's next_attempt_at and re-checks its
 * foreign keys; see startSteps and promoteReady).
 */
function releaseCtes(first: number, promote: boolean): string {
  const $ = (i: number) => `$${first + i}`;
  const pairs = `unnest(${$(0)}::uuid[], ${$(1)}::text[], ${$(2)}::int[]) AS v(run_id, step_key, n)`;
  if (promote)
    return `counted_down AS (
       UPDATE orchestration_steps s
          SET pending_dependencies = s.pending_dependencies - v.n,
              status = CASE WHEN s.pending_dependencies - v.n <= 0 THEN 'ready' ELSE s.status END,
              next_attempt_at = CASE WHEN s.pending_dependencies - v.n <= 0 THEN now() ELSE s.next_attempt_at END,
              updated_at = now()
         FROM ${pairs}
        WHERE s.run_id = v.run_id AND s.step_key = v.step_key AND s.status = 'pending'
        RETURNING ${claimableColumns('s')}, 0 AS uncounted, s.pending_dependencies, s.priority, s.position
     ), released AS (SELECT * FROM counted_down WHERE pending_dependencies <= 0)`;
  return `counted_down AS (
       UPDATE orchestration_steps s SET pending_dependencies = s.pending_dependencies - v.n, updated_at = now()
         FROM ${pairs}
        WHERE s.run_id = v.run_id AND s.step_key = v.step_key AND s.status = 'pending' AND s.pending_dependencies > v.n
     ), released AS (
       SELECT ${claimableColumns('s')}, v.n AS uncounted, s.priority, s.position
         FROM orchestration_steps s JOIN ${pairs} ON s.run_id = v.run_id AND s.step_key = v.step_key
        WHERE s.status = 'pending' AND s.pending_dependencies <= v.n
     )`;
}

const releaseParams = (releases: { runId: string; stepKey: string; n: number }[]): unknown[] => [
  releases.map((r) => r.runId),
  releases.map((r) => r.stepKey),
  releases.map((r) => r.n),
];

/** A released row as the statements return it (json_agg keeps every column). */
type ReleasedRow = ReleasedStep & { priority?: number; position?: number; pending_dependencies?: number };

function releasedStep({ id, run_id, step_key, agent_slug, type, attempt, manual_input, depends_on, uncounted }: ReleasedRow): ReleasedStep {
  return { id, run_id, step_key, agent_slug, type, attempt, manual_input, depends_on, ...(uncounted ? { uncounted } : {}) };
}

/**
 * Counts down the pending dependencies of the given (run, step) pairs by n and returns the steps that reach
 * zero, best first (priority, then position), with what a claim needs to start them. With `promote`, those become
 * ready at once (same transaction); without, they stay pending, their last count-down owed (`uncounted`), for the
 * caller to start directly or make ready (promoteReady) in this transaction: every one of them, one or the other.
 */
export async function releaseDependents(
  client: Queryable,
  releases: { runId: string; stepKey: string; n: number }[],
  promote = true,
): Promise<ReleasedStep[]> {
  if (releases.length === 0) return [];
  const { rows } = await client.query<ReleasedRow>(
    `WITH ${releaseCtes(1, promote)}
     SELECT ${claimableColumns('r')}, r.uncounted FROM released r ORDER BY r.priority DESC, r.position`,
    releaseParams(releases),
  );
  return rows.map(releasedStep);
}

/**
 * updateSteps, releaseDependents and countDownRemaining in one statement, for a result batch whose steps only
 * completed or were requeued (no failure, checkpoint, usage or breaker change): the three touch different rows (the
 * batch's running steps, their pending dependents, the runs), so one snapshot serves them all. Returns what
 * releaseDependents and countDownRemaining return.
 */
export async function completeAndRelease(
  client: Queryable,
  updates: StepUpdate[],
  releases: { runId: string; stepKey: string; n: number }[],
  promote: boolean,
  finished: Map<string, number>,
): Promise<{ released: ReleasedStep[]; remaining: Map<string, number> }> {
  const { rows } = await client.query<{
    released: ReleasedRow[];
    counted: { id: string; steps_remaining: number }[];
  }>(
    `WITH done AS (${stepUpdateSql(1)} RETURNING s.id),
     ${releaseCtes(9, promote)},
     counted AS (
       UPDATE orchestration_runs r SET steps_remaining = r.steps_remaining - v.n, updated_at = now()
         FROM unnest($12::uuid[], $13::int[]) AS v(id, n) WHERE r.id = v.id
       RETURNING r.id, r.steps_remaining
     )
     SELECT coalesce((SELECT json_agg(r ORDER BY r.priority DESC, r.position) FROM released r), '[]') AS released,
            coalesce((SELECT json_agg(c) FROM counted c), '[]') AS counted`,
    [...stepUpdateParams(updates), ...releaseParams(releases), [...finished.keys()], [...finished.values()]],
  );
  const released = rows[0].released.map(releasedStep);
  return { released, remaining: new Map(rows[0].counted.map((c) => [c.id, c.steps_remaining])) };
}

/** Makes released pending steps ready (the ones a fast claim did not start), counting down what they owe (`uncounted`). */
export async function promoteReady(client: Queryable, steps: Pick<ReleasedStep, 'id' | 'uncounted'>[]): Promise<void> {
  if (steps.length === 0) return;
  await client.query(
    `UPDATE orchestration_steps s
        SET status = 'ready', pending_dependencies = s.pending_dependencies - v.n, next_attempt_at = now(), updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS v(id, n)
      WHERE s.id = v.id AND s.status = 'pending' AND s.pending_dependencies - v.n <= 0`,
    [steps.map((s) => s.id), steps.map((s) => s.uncounted ?? 0)],
  );
}

export interface CancelledStep {
  run_id: string;
  step_key: string;
  /** It was running: its worker must be told to abort it. */
  was_running: boolean;
}

/**
 * Cancels every unfinished step of the runs; returns them with whether each was running (to abort it), in each run's
 * step order (their events follow it, whatever plan the server picked).
 */
export async function cancelOpenSteps(client: Queryable, runIds: string[]): Promise<CancelledStep[]> {
  if (runIds.length === 0) return [];
  const { rows } = await client.query<CancelledStep>(
    `WITH open AS (
       SELECT id, status = 'running' AS was_running FROM orchestration_steps
        WHERE run_id = ANY($1::uuid[]) AND status = ANY($2::text[])
        FOR UPDATE
     ), cancelled AS (
       UPDATE orchestration_steps s SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, completed_at = now(), updated_at = now()
         FROM open WHERE s.id = open.id
       RETURNING s.run_id, s.step_key, s.position, open.was_running
     )
     SELECT run_id, step_key, was_running FROM cancelled ORDER BY run_id, position`,
    [runIds, OPEN_STEP_STATUSES],
  );
  return rows;
}

/** Counts down steps_remaining; returns each run's new value. */
export async function countDownRemaining(client: Queryable, counts: Map<string, number>): Promise<Map<string, number>> {
  if (counts.size === 0) return new Map();
  const { rows } = await client.query<{ id: string; steps_remaining: number }>(
    `UPDATE orchestration_runs r SET steps_remaining = r.steps_remaining - v.n, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS v(id, n) WHERE r.id = v.id
     RETURNING r.id, r.steps_remaining`,
    [[...counts.keys()], [...counts.values()]],
  );
  return new Map(rows.map((r) => [r.id, r.steps_remaining]));
}

/** A run's final row (see the transitions in ../transitions/). */
export interface RunFinish {
  id: string;
  status: RunStatus;
  output: unknown;
  error: unknown;
  /** How the run's compensation ended, when it had one (absent: unchanged). */
  compensation?: 'completed' | 'failed';
}

export async function finishRuns(client: Queryable, runs: RunFinish[]): Promise<void> {
  if (runs.length === 0) return;
  await client.query(
    `UPDATE orchestration_runs r
        SET status = v.status, output = v.output, error = v.error, completed_at = now(), updated_at = now(),
            steps_remaining = CASE WHEN v.status = 'completed' THEN r.steps_remaining ELSE 0 END,
            compensation = coalesce(v.compensation, r.compensation)
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::jsonb[], $5::text[]) AS v(id, status, output, error, compensation)
      WHERE r.id = v.id`,
    [
      runs.map((r) => r.id),
      runs.map((r) => r.status),
      runs.map((r) => (r.output == null ? null : JSON.stringify(r.output))),
      runs.map((r) => (r.error == null ? null : JSON.stringify(r.error))),
      runs.map((r) => r.compensation ?? null),
    ],
  );
}

export async function stepOutputs(
  client: Queryable,
  runIds: string[],
): Promise<{ run_id: string; step_key: string; status: StepStatus; output: unknown }[]> {
  const { rows } = await client.query<{ run_id: string; step_key: string; status: StepStatus; output: unknown }>(
    `SELECT run_id, step_key, status, output FROM orchestration_steps WHERE run_id = ANY($1::uuid[])`,
    [runIds],
  );
  return rows;
}

/** Asks for a NOTIFY once the caller's transaction commits (see EngineDatabase.tx for why not inside it). */
export async function notify(client: Queryable, channel: string, payload = ''): Promise<void> {
  notifyAfterCommit(client, channel, payload);
}
