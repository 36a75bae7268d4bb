import { Injectable } from '@nestjs/common';
import { DomainError, type JsonValue, type Page, type PageRequest } from '#core';
import { EngineDatabase } from '../store/engine-database.js';

export interface ApprovalView {
  id: string;
  runId: string;
  definition: string;
  stepKey: string;
  status: 'pending' | 'resolved' | 'expired';
  decision: string | null;
  prompt: string;
  payload: JsonValue;
  decisions: string[];
  roles: string[];
  assignees: string[];
  quorum: number;
  onTimeout: string;
  modifications: JsonValue;
  comment: string | null;
  requestedAt: string;
  expiresAt: string | null;
  escalatedAt: string | null;
  decidedAt: string | null;
  decidedBy: string | null;
}

export interface DecisionView {
  id: string;
  decision: string;
  actorType: string;
  actorId: string | null;
  decidedBy: string | null;
  decidedByEmail: string | null;
  modifications: JsonValue;
  modificationsDiff: JsonValue;
  payloadSeen: JsonValue;
  comment: string | null;
  reason: string;
  createdAt: string;
}

export interface ApprovalFilter {
  status?: 'pending' | 'resolved' | 'expired';
  definition?: string;
  runId?: string;
}

interface Row {
  id: string;
  run_id: string;
  definition_slug: string;
  step_key: string;
  status: ApprovalView['status'];
  decision: string | null;
  prompt: string;
  payload: JsonValue;
  decisions: string[];
  roles: string[];
  assignees: string[];
  quorum: number;
  on_timeout: string;
  modifications: JsonValue;
  comment: string | null;
  requested_at: Date;
  expires_at: Date | null;
  escalated_at: Date | null;
  decided_at: Date | null;
  decided_by: string | null;
  total?: number;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const SELECT = `SELECT a.id, a.run_id, r.definition_slug, a.step_key, a.status, a.decision, a.prompt, a.payload, a.decisions, a.roles, a.assignees,
  a.quorum, a.on_timeout, a.modifications, a.comment, a.requested_at, a.expires_at, a.escalated_at, a.decided_at, a.decided_by
  FROM human_approvals a JOIN orchestration_runs r ON r.id = a.run_id`;

/** Read side of approvals, scoped to the caller's organization. */
@Injectable()
export class ApprovalQueryService {
  constructor(private readonly db: EngineDatabase) {}

  async list(organizationId: string, filter: ApprovalFilter, page: PageRequest): Promise<Page<ApprovalView>> {
    const rows = await this.db.query<Row>(
      `${SELECT.replace('SELECT ', 'SELECT count(*) OVER ()::int AS total, ')}
        WHERE a.organization_id = $1 AND ($2::text IS NULL OR a.status = $2) AND ($3::text IS NULL OR r.definition_slug = $3)
          AND ($4::uuid IS NULL OR a.run_id = $4)
        ORDER BY a.requested_at DESC, a.id LIMIT $5 OFFSET $6`,
      [organizationId, filter.status ?? null, filter.definition ?? null, filter.runId ?? null, page.limit, page.offset],
    );
    const total = rows[0]?.total ?? (page.offset > 0 ? await this.count(organizationId, filter) : 0);
    return { items: rows.map(toView), total, limit: page.limit, offset: page.offset };
  }

  private async count(organizationId: string, filter: ApprovalFilter): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM human_approvals a JOIN orchestration_runs r ON r.id = a.run_id
        WHERE a.organization_id = $1 AND ($2::text IS NULL OR a.status = $2) AND ($3::text IS NULL OR r.definition_slug = $3) AND ($4::uuid IS NULL OR a.run_id = $4)`,
      [organizationId, filter.status ?? null, filter.definition ?? null, filter.runId ?? null],
    );
    return row.n;
  }

  async get(organizationId: string, id: string): Promise<ApprovalView & { history: DecisionView[] }> {
    const [row] = await this.db.query<Row>(`${SELECT} WHERE a.organization_id = $1 AND a.id = $2`, [organizationId, id]);
    if (!row) throw DomainError.notFound('Approval', id);
    const history = await this.db.query<{
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
    }>(
      `SELECT d.id, d.decision, d.actor_type, d.actor_id, d.decided_by, u.email, d.modifications, d.modifications_diff, d.payload_seen, d.comment, d.reason, d.created_at
         FROM approval_decisions d LEFT JOIN users u ON u.id = d.decided_by
        WHERE d.approval_id = $1 ORDER BY d.created_at, d.id`,
      [id],
    );
    return {
      ...toView(row),
      history: history.map((h) => ({
        id: h.id,
        decision: h.decision,
        actorType: h.actor_type,
        actorId: h.actor_id,
        decidedBy: h.decided_by,
        decidedByEmail: h.email,
        modifications: h.modifications,
        modificationsDiff: h.modifications_diff,
        payloadSeen: h.payload_seen,
        comment: h.comment,
        reason: h.reason,
        createdAt: iso(h.created_at) as string,
      })),
    };
  }

  /** Where a decision on an approval goes: its run (the A2A task) and the run's definition (the agent). */
  async locate(organizationId: string, id: string): Promise<{ runId: string; definition: string }> {
    const [row] = await this.db.query<{ run_id: string; definition_slug: string }>(
      `SELECT a.run_id, r.definition_slug FROM human_approvals a JOIN orchestration_runs r ON r.id = a.run_id WHERE a.organization_id = $1 AND a.id = $2`,
      [organizationId, id],
    );
    if (!row) throw DomainError.notFound('Approval', id);
    return { runId: row.run_id, definition: row.definition_slug };
  }

  async pendingOfRun(organizationId: string, runId: string): Promise<ApprovalView[]> {
    return (
      await this.db.query<Row>(
        `${SELECT} WHERE a.organization_id = $1 AND a.run_id = $2 AND a.status = 'pending' ORDER BY a.requested_at`,
        [organizationId, runId],
      )
    ).map(toView);
  }
}

function toView(r: Row): ApprovalView {
  return {
    id: r.id,
    runId: r.run_id,
    definition: r.definition_slug,
    stepKey: r.step_key,
    status: r.status,
    decision: r.decision,
    prompt: r.prompt,
    payload: r.payload,
    decisions: r.decisions,
    roles: r.roles,
    assignees: r.assignees,
    quorum: r.quorum,
    onTimeout: r.on_timeout,
    modifications: r.modifications,
    comment: r.comment,
    requestedAt: iso(r.requested_at) as string,
    expiresAt: iso(r.expires_at),
    escalatedAt: iso(r.escalated_at),
    decidedAt: iso(r.decided_at),
    decidedBy: r.decided_by,
  };
}
