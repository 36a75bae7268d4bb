/** Reads of approvals and their decision history (the API's approval views), scoped to one organization. */
import type { JsonValue, PageRequest } from '#core';
import type { ApprovalStatus, HumanApprovalColumns } from './approval.repository.js';
import type { Queryable } from './engine-database.js';

export interface ApprovalFilter {
  status?: ApprovalStatus;
  definition?: string;
  runId?: string;
}

/** What an approval view shows: the approval without its organization and step ids, with its run's definition. */
export type ApprovalViewRow = Omit<HumanApprovalColumns, 'organization_id' | 'step_id'> & { definition_slug: string; total?: number };

const SELECT_VIEW = `SELECT a.id, a.run_id, r.definition_slug, a.step_key, a.status, a.decision, a.prompt, a.payload, a.decisions, a.roles, a.assignees,
  a.quorum, a.on_timeout, a.modifications, a.comment, a.requested_at, a.expires_at, a.escalated_at, a.decided_at, a.decided_by
  FROM human_approvals a JOIN orchestration_runs r ON r.id = a.run_id`;

/**
 * The WHERE clause of the filters given, and its parameters from $1 (the organization first). Built per combination
 * rather than `($n IS NULL OR ...)`: the engine's connections keep generic plans (engine-database.ts), and a generic
 * plan of a catch-all filter cannot use the (organization, status, requested_at) index. The definition is a property
 * of the run: only that filter reads orchestration_runs.
 */
function approvalFilter(organizationId: string, filter: ApprovalFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [organizationId];
  const clauses = ['a.organization_id = $1'];
  if (filter.status) clauses.push(`a.status = $${params.push(filter.status)}`);
  if (filter.runId) clauses.push(`a.run_id = $${params.push(filter.runId)}::uuid`);
  if (filter.definition)
    clauses.push(
      `EXISTS (SELECT 1 FROM orchestration_runs d WHERE d.id = a.run_id AND d.definition_slug = $${params.push(filter.definition)})`,
    );
  return { where: clauses.join(' AND '), params };
}

/**
 * A page of approvals, newest first, with the number of all that match on each row (`total`). The page is chosen
 * on human_approvals alone (its index gives the order); only the page's rows are joined to their runs.
 */
export async function listApprovalViews(
  client: Queryable,
  organizationId: string,
  filter: ApprovalFilter,
  page: PageRequest,
): Promise<ApprovalViewRow[]> {
  const { where, params } = approvalFilter(organizationId, filter);
  const limit = params.push(page.limit);
  const offset = params.push(page.offset);
  const { rows } = await client.query<ApprovalViewRow>(
    `WITH page AS (
       SELECT a.id FROM human_approvals a WHERE ${where} ORDER BY a.requested_at DESC, a.id LIMIT $${limit} OFFSET $${offset}
     )
     ${SELECT_VIEW.replace('SELECT ', `SELECT (SELECT count(*) FROM human_approvals a WHERE ${where})::int AS total, `)}
      WHERE a.id IN (SELECT id FROM page)
      ORDER BY a.requested_at DESC, a.id`,
    params,
  );
  return rows;
}

export async function countApprovals(client: Queryable, organizationId: string, filter: ApprovalFilter): Promise<number> {
  const { where, params } = approvalFilter(organizationId, filter);
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM human_approvals a WHERE ${where}`, params);
  return rows[0].n;
}

export async function approvalView(client: Queryable, organizationId: string, id: string): Promise<ApprovalViewRow | undefined> {
  const { rows } = await client.query<ApprovalViewRow>(`${SELECT_VIEW} WHERE a.organization_id = $1 AND a.id = $2`, [organizationId, id]);
  return rows[0];
}

export async function pendingApprovalViewsOfRun(client: Queryable, organizationId: string, runId: string): Promise<ApprovalViewRow[]> {
  const { rows } = await client.query<ApprovalViewRow>(
    // The organization is checked on the run (an approval is always its run's organization's): with it on the approval,
    // generic plans walked every pending approval of the organization by (organization, status, requested_at) to find
    // this run's (~850 buffers at 5,000 pending) instead of reading them by human_approvals_run_idx.
    `${SELECT_VIEW} WHERE r.organization_id = $1 AND a.run_id = $2 AND a.status = 'pending' ORDER BY a.requested_at, a.id`,
    [organizationId, runId],
  );
  return rows;
}

export interface DecisionRow {
  id: string;
  decision: string;
  actor_type: string;
  actor_id: string | null;
  decided_by: string | null;
  email: string | null;
  modifications: JsonValue;
  modifications_diff: JsonValue;
  payload_seen: JsonValue;
  comment: string | null;
  reason: string;
  created_at: Date;
}

/** An approval's decisions, oldest first, with the deciding user's email. */
export async function decisionHistory(client: Queryable, approvalId: string): Promise<DecisionRow[]> {
  const { rows } = await client.query<DecisionRow>(
    `SELECT d.id, d.decision, d.actor_type, d.actor_id, d.decided_by, u.email, d.modifications, d.modifications_diff, d.payload_seen, d.comment, d.reason, d.created_at
       FROM approval_decisions d LEFT JOIN users u ON u.id = d.decided_by
      WHERE d.approval_id = $1 ORDER BY d.created_at, d.id`,
    [approvalId],
  );
  return rows;
}

/** The run and definition of an approval (where a decision on it goes). */
export async function approvalLocation(
  client: Queryable,
  organizationId: string,
  id: string,
): Promise<{ run_id: string; definition_slug: string } | undefined> {
  const { rows } = await client.query<{ run_id: string; definition_slug: string }>(
    `SELECT a.run_id, r.definition_slug FROM human_approvals a JOIN orchestration_runs r ON r.id = a.run_id WHERE a.organization_id = $1 AND a.id = $2`,
    [organizationId, id],
  );
  return rows[0];
}
