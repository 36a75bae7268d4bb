/** Reads of a run's tree of sub-orchestrations (children, their children, ...), scoped to one organization. */
import type { Queryable } from './engine-database.js';

export interface TreeApprovalRow {
  id: string;
  run_id: string;
  step_key: string;
  prompt: string;
  requested_at: Date;
  depth: number;
}

/** Pending approvals of the run and of every descendant run, oldest first. */
export async function pendingApprovalsOfTree(client: Queryable, organizationId: string, runId: string): Promise<TreeApprovalRow[]> {
  const { rows } = await client.query<TreeApprovalRow>(
    `WITH RECURSIVE tree(id, depth) AS (
       SELECT id, 0 FROM orchestration_runs WHERE id = $2 AND organization_id = $1
       UNION ALL SELECT r.id, t.depth + 1 FROM orchestration_runs r JOIN tree t ON r.parent_run_id = t.id
     )
     SELECT a.id, a.run_id, a.step_key, a.prompt, a.requested_at, t.depth
       FROM human_approvals a JOIN tree t ON t.id = a.run_id
      WHERE a.status = 'pending' ORDER BY a.requested_at, a.id`,
    [organizationId, runId],
  );
  return rows;
}

export interface ChildRunRow {
  id: string;
  definition_slug: string;
  definition_version: number;
  status: string;
  parent_step_id: string | null;
  step_key: string | null;
  parent_attempt: number | null;
  item_index: number | null;
  steps_total: number;
  steps_done: number;
  created_at: Date;
  completed_at: Date | null;
}

/** The direct children of a run with their progress (finished steps of all), in step then item order. */
export async function childrenOfRun(client: Queryable, organizationId: string, runId: string): Promise<ChildRunRow[]> {
  const { rows } = await client.query<ChildRunRow>(
    `SELECT r.id, r.definition_slug, r.definition_version, r.status, r.parent_step_id, p.step_key, r.parent_attempt, r.item_index,
            (SELECT count(*)::int FROM orchestration_steps s WHERE s.run_id = r.id) AS steps_total,
            (SELECT count(*)::int FROM orchestration_steps s WHERE s.run_id = r.id AND s.status IN ('completed', 'failed', 'skipped', 'cancelled')) AS steps_done,
            r.created_at, r.completed_at
       FROM orchestration_runs r LEFT JOIN orchestration_steps p ON p.id = r.parent_step_id
      WHERE r.organization_id = $1 AND r.parent_run_id = $2
      ORDER BY p.position, r.parent_attempt, r.item_index NULLS FIRST, r.created_at
      LIMIT 10000`,
    [organizationId, runId],
  );
  return rows;
}
