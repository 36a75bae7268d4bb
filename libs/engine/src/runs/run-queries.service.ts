import { Injectable } from '@nestjs/common';
import { DomainError, type Page, type PageRequest, type StepStatus } from '#core';
import { RunsRepository, StepsRepository, type OrchestrationRunEntity, type OrchestrationStepEntity, type RunFilter } from '#persistence';
import { EngineDatabase } from '../store/engine-database.js';
import type { EventRow } from '#events';
import { runEvents } from '../store/event-query.repository.js';
import { childrenOfRun, pendingApprovalsOfTree } from '../store/run-tree.repository.js';

/** A pending approval anywhere in a run's tree (its own, or of a descendant run). */
export interface TreeApproval {
  id: string;
  runId: string;
  stepKey: string;
  prompt: string;
  requestedAt: string;
  /** 0: the run's own; 1: a child's; ... */
  depth: number;
}

/** A direct child run of a run, with its progress. */
export interface ChildRunSummary {
  id: string;
  definition: string;
  version: number;
  status: string;
  /** The parent step that started it, that step's attempt, and its forEach item (null: not a forEach). */
  stepKey: string | null;
  attempt: number | null;
  index: number | null;
  percent: number;
  createdAt: string;
  completedAt: string | null;
}

export interface RunWithSteps {
  run: OrchestrationRunEntity;
  steps: OrchestrationStepEntity[];
}

export interface RunStatusSummary {
  runId: string;
  status: OrchestrationRunEntity['status'];
  definition: string;
  version: number;
  total: number;
  counts: Partial<Record<StepStatus, number>>;
  percent: number;
  runningSteps: string[];
  awaitingApproval: string[];
  nextRetryAt: string | null;
  updatedAt: string;
}

const FINISHED: StepStatus[] = ['completed', 'failed', 'skipped', 'cancelled'];

/** Read side of runs, always scoped to the caller's organization (another org's run is simply not found). */
@Injectable()
export class RunQueryService {
  constructor(
    private readonly runs: RunsRepository,
    private readonly steps: StepsRepository,
    private readonly db: EngineDatabase,
  ) {}

  async get(organizationId: string, runId: string): Promise<RunWithSteps> {
    const run = await this.runs.findById(organizationId, runId);
    if (!run) throw DomainError.notFound('Run', runId);
    return { run, steps: await this.steps.listForRun(organizationId, runId) };
  }

  list(organizationId: string, filter: RunFilter, page: PageRequest): Promise<Page<OrchestrationRunEntity>> {
    return this.runs.list(organizationId, filter, page);
  }

  async status(organizationId: string, runId: string): Promise<RunStatusSummary> {
    return summarize(await this.get(organizationId, runId));
  }

  /** The pending approvals of the run and its descendants (a paused child shows on its parent). */
  async pendingApprovalsOfTree(organizationId: string, runId: string): Promise<TreeApproval[]> {
    const rows = await pendingApprovalsOfTree(this.db.pool, organizationId, runId);
    return rows.map((r) => ({ id: r.id, runId: r.run_id, stepKey: r.step_key, prompt: r.prompt, requestedAt: r.requested_at.toISOString(), depth: r.depth }));
  }

  async children(organizationId: string, runId: string): Promise<ChildRunSummary[]> {
    const rows = await childrenOfRun(this.db.pool, organizationId, runId);
    return rows.map((r) => ({
      id: r.id,
      definition: r.definition_slug,
      version: r.definition_version,
      status: r.status,
      stepKey: r.step_key,
      attempt: r.parent_attempt,
      index: r.item_index,
      percent: r.steps_total === 0 ? 100 : Math.round((r.steps_done / r.steps_total) * 1000) / 10,
      createdAt: r.created_at.toISOString(),
      completedAt: r.completed_at ? r.completed_at.toISOString() : null,
    }));
  }

  async events(organizationId: string, runId: string, afterId: string | null, limit: number): Promise<EventRow[]> {
    const run = await this.runs.findById(organizationId, runId);
    if (!run) throw DomainError.notFound('Run', runId);
    return runEvents(this.db.pool, organizationId, runId, afterId, limit);
  }
}

export function summarize({ run, steps }: RunWithSteps): RunStatusSummary {
  const counts: Partial<Record<StepStatus, number>> = {};
  for (const step of steps) counts[step.status] = (counts[step.status] ?? 0) + 1;
  const done = steps.filter((s) => FINISHED.includes(s.status)).length;
  const retries = steps.filter((s) => s.status === 'ready' && s.attempt > 0 && s.nextAttemptAt).map((s) => (s.nextAttemptAt as Date).getTime());
  return {
    runId: run.id,
    status: run.status,
    definition: run.definitionSlug,
    version: run.definitionVersion,
    total: steps.length,
    counts,
    percent: steps.length === 0 ? 100 : Math.round((done / steps.length) * 1000) / 10,
    runningSteps: steps.filter((s) => s.status === 'running').map((s) => s.stepKey),
    awaitingApproval: steps.filter((s) => s.status === 'awaiting_approval').map((s) => s.stepKey),
    nextRetryAt: retries.length > 0 ? new Date(Math.min(...retries)).toISOString() : null,
    updatedAt: run.updatedAt.toISOString(),
  };
}
