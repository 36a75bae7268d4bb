import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DomainError, type JsonValue, type Page, type PageRequest } from '#core';
import {
  approvalLocation,
  approvalView,
  countApprovals,
  decisionHistory,
  listApprovalViews,
  pendingApprovalViewsOfRun,
  type ApprovalFilter,
  type ApprovalViewRow,
} from '../store/approval-view.repository.js';
import type { ApprovalStatus } from '../store/approval.repository.js';
import type { CommittedEvent } from '../store/committed-event.js';
import { EngineDatabase } from '../store/engine-database.js';

/** How many approvals' locations an instance keeps (pending ones leave on their decision; the oldest go first). */
const MAX_LOCATIONS = 50_000;

export type { ApprovalFilter } from '../store/approval-view.repository.js';
export interface ApprovalView {
  id: string;
  runId: string;
  definition: string;
  stepKey: string;
  status: ApprovalStatus;
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

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** Read side of approvals, scoped to the caller's organization (SQL in store/approval-view.repository.ts). */
@Injectable()
export class ApprovalQueryService implements OnModuleInit, OnModuleDestroy {
  /**
   * Where decisions on the approvals this instance opened go (approval id -> organization, run, definition), learnt
   * from its committed checkpoint.requested events: an approval's run and the run's definition never change, so a
   * decision on one skips the read of its location (a round trip before the decision's transaction). Any other
   * approval is read as before.
   */
  private readonly locations = new Map<string, { organizationId: string; runId: string; definition: string }>();
  private off: (() => void) | null = null;

  constructor(private readonly db: EngineDatabase) {}

  onModuleInit(): void {
    this.off = this.db.onCommitted((events) => this.learn(events));
  }

  onModuleDestroy(): void {
    this.off?.();
  }

  private learn(events: CommittedEvent[]): void {
    for (const e of events) {
      const approvalId = (e.payload as { approvalId?: unknown } | null)?.approvalId;
      if (typeof approvalId !== 'string') continue;
      if (e.type === 'checkpoint.resolved') this.locations.delete(approvalId);
      else if (e.type === 'checkpoint.requested' && e.definition) {
        this.locations.set(approvalId, { organizationId: e.organizationId, runId: e.runId, definition: e.definition });
        if (this.locations.size > MAX_LOCATIONS) this.locations.delete(this.locations.keys().next().value as string);
      }
    }
  }

  async list(organizationId: string, filter: ApprovalFilter, page: PageRequest): Promise<Page<ApprovalView>> {
    const rows = await listApprovalViews(this.db.pool, organizationId, filter, page);
    const total = rows[0]?.total ?? (page.offset > 0 ? await countApprovals(this.db.pool, organizationId, filter) : 0);
    return { items: rows.map(toView), total, limit: page.limit, offset: page.offset };
  }

  async get(organizationId: string, id: string): Promise<ApprovalView & { history: DecisionView[] }> {
    const row = await approvalView(this.db.pool, organizationId, id);
    if (!row) throw DomainError.notFound('Approval', id);
    const history = await decisionHistory(this.db.pool, id);
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
    const known = this.locations.get(id);
    if (known && known.organizationId === organizationId) return { runId: known.runId, definition: known.definition };
    const row = await approvalLocation(this.db.pool, organizationId, id);
    if (!row) throw DomainError.notFound('Approval', id);
    return { runId: row.run_id, definition: row.definition_slug };
  }

  async pendingOfRun(organizationId: string, runId: string): Promise<ApprovalView[]> {
    return (await pendingApprovalViewsOfRun(this.db.pool, organizationId, runId)).map(toView);
  }
}

function toView(r: ApprovalViewRow): ApprovalView {
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
