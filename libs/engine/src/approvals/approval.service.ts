/**
 * Deciding a checkpoint. One transaction under the run's lock and the approval's row lock, so of two racing
 * decisions exactly one applies and the other finds the approval resolved (409). Every decision is kept
 * (approval_decisions, immutable) with the payload the approver saw and a diff of the modifications.
 * Reached only through OrchestrationRunner (REST, CLI and the timeout all build a task request), so there is
 * one path that resumes a run.
 */
import { Injectable } from '@nestjs/common';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { deepMerge, DomainError, DomainErrorCode, jsonDiff, type JsonValue, type ProblemDetail } from '#core';
import { CANCEL_CHANNEL, WORK_CHANNEL } from '#events';
import { DefinitionCache } from '../compiled-definition.js';
import { EngineDatabase, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import {
  closeApproval,
  continueVotes,
  expireApprovalsOfRuns,
  findApproval,
  insertDecision,
  lockApproval,
  pendingApprovalsOfRun,
  setRunStatus,
  stepForDecision,
  type ApprovalRow,
} from '../store/approval.repository.js';
import { markSkipped } from '../store/run-control.repository.js';
import { cancelOpenSteps, finishRuns, lockRuns, notify, releaseDependents, updateSteps, type RunRow } from '../store/step-transition.repository.js';
import { ResultApplier } from '../worker/result-applier.js';

export const DECISIONS = ['continue', 'retry', 'skip', 'abort'] as const;
export type Decision = (typeof DECISIONS)[number];

export interface DecisionActor {
  type: 'user' | 'api_key' | 'system';
  /** User or API key id (null for the system). */
  id: string | null;
  /** The user behind the decision, when there is one. */
  userId: string | null;
  role: string | null;
  email?: string | null;
}

export interface DecideCommand {
  organizationId: string;
  /** The approval to decide; optional when the run has exactly one pending approval. */
  approvalId?: string;
  runId?: string;
  /** Omitted for a timeout: the approval's onTimeout decision applies. */
  decision?: Decision;
  modifications?: JsonValue;
  comment?: string | null;
  actor: DecisionActor;
  reason?: 'human' | 'timeout';
}

export interface DecisionResult {
  approvalId: string;
  runId: string;
  decision: Decision;
  /** False while a quorum still waits for more `continue` votes. */
  resolved: boolean;
  votes: number;
  quorum: number;
}

const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);

@Injectable()
export class ApprovalService {
  constructor(
    private readonly db: EngineDatabase,
    private readonly definitions: DefinitionCache,
    private readonly applier: ResultApplier,
  ) {}

  decide(command: DecideCommand): Promise<DecisionResult> {
    if (command.reason !== 'timeout' && !(DECISIONS as readonly string[]).includes(command.decision ?? '')) {
      throw DomainError.validation(`decision must be one of ${DECISIONS.join(', ')}`, [{ path: '$.decision', message: `must be one of ${DECISIONS.join(', ')}` }]);
    }
    return this.db.tx(async (client) => {
      const target = await this.target(client, command);
      const runs = await lockRuns(client, [target.run_id]);
      const run = runs.get(target.run_id) as RunRow;
      const approval = (await lockApproval(client, target.id)) as ApprovalRow;
      const timeout = command.reason === 'timeout';
      if (timeout && !approval.expired) throw DomainError.invalidState(`Approval ${approval.id} has not expired`);
      const decision: Decision = timeout ? approval.on_timeout : (command.decision as Decision);
      if (approval.status !== 'pending') {
        throw DomainError.conflict(`Approval ${approval.id} is already ${approval.status}${approval.decision ? ` (${approval.decision})` : ''}`, { status: approval.status, decision: approval.decision });
      }
      if (!timeout && approval.expired) throw DomainError.conflict(`Approval ${approval.id} expired at ${approval.expires_at?.toISOString()}; its timeout policy applies`);
      if (!timeout && !approval.decisions.includes(decision)) {
        throw DomainError.validation(`Decision ${decision} is not allowed here`, [{ path: '$.decision', message: `allowed: ${approval.decisions.join(', ')}` }]);
      }
      if (!timeout) this.authorize(approval, command.actor);
      await this.checkModifications(run, approval, command.modifications);

      const step = await stepForDecision(client, approval.step_id);
      if (!step) throw DomainError.notFound('Step', approval.step_key);
      const modifications = command.modifications ?? null;
      const base = decision === 'retry' ? step.input : approval.payload;
      try {
        await insertDecision(client, {
          organizationId: approval.organization_id,
          approvalId: approval.id,
          actorType: command.actor.type,
          actorId: command.actor.id,
          decidedBy: command.actor.userId,
          decision: decision,
          modifications,
          diff: modifications === null ? [] : (jsonDiff(base, deepMerge(base, modifications)) as unknown as JsonValue),
          payloadSeen: approval.payload,
          comment: command.comment ?? null,
          reason: timeout ? 'timeout' : 'human',
        });
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw DomainError.conflict('You already decided this approval; a quorum needs distinct approvers');
        throw error;
      }

      const events: NewEvent[] = [];
      const ev = { runId: run.id, organizationId: run.organization_id, stepKey: approval.step_key };
      if (decision === 'continue' && !timeout) {
        const votes = await continueVotes(client, approval.id);
        if (votes < approval.quorum) return { approvalId: approval.id, runId: run.id, decision: decision, resolved: false, votes, quorum: approval.quorum };
      }
      await closeApproval(client, approval.id, timeout ? 'expired' : 'resolved', decision, command.actor.userId, modifications, command.comment ?? null);
      events.push({ ...ev, type: 'checkpoint.resolved', payload: { approvalId: approval.id, decision: decision, by: command.actor.userId, reason: timeout ? 'timeout' : 'human', modifications } });

      if (decision === 'abort') {
        await this.abort(client, run, events);
      } else {
        if (decision === 'continue') {
          const output = deepMerge(step.output, modifications ?? undefined);
          await updateSteps(client, [{ id: step.id, status: 'completed', attempt: step.attempt, leaseLosses: 0, output, error: null, delayMs: null }]);
          events.push({ ...ev, type: 'step.completed', payload: { attempt: step.attempt, output, approved: true } });
          await this.release(client, runs, run, approval.step_key, events);
        } else if (decision === 'skip') {
          await markSkipped(client, step.id, null);
          events.push({ ...ev, type: 'step.skipped', payload: { output: null, by: command.actor.userId, approvalId: approval.id } });
          await this.release(client, runs, run, approval.step_key, events);
        } else {
          await this.retry(client, step.id, deepMerge(step.input, modifications ?? undefined));
          events.push({ ...ev, type: 'step.ready', payload: { attempt: step.attempt + 1, reason: 'approval_retry' } });
        }
        await this.resumeIfNoneWaiting(client, run, events);
      }
      await appendEvents(client, events);
      if (events.some((e) => e.type === 'step.ready')) await notify(client, WORK_CHANNEL);
      return { approvalId: approval.id, runId: run.id, decision: decision, resolved: true, votes: 0, quorum: approval.quorum };
    });
  }

  private async target(client: Queryable, command: DecideCommand): Promise<ApprovalRow> {
    if (command.approvalId) {
      const approval = await findApproval(client, command.organizationId, command.approvalId);
      if (!approval || (command.runId && approval.run_id !== command.runId)) throw DomainError.notFound('Approval', command.approvalId);
      return approval;
    }
    if (!command.runId) throw DomainError.validation('Name the approval to decide', [{ path: '$.approvalId', message: 'required' }]);
    const pending = (await pendingApprovalsOfRun(client, command.runId)).filter((a) => a.organization_id === command.organizationId);
    if (pending.length === 1) return pending[0];
    if (pending.length === 0) throw DomainError.invalidState(`Run ${command.runId} has no pending approval`);
    throw DomainError.validation('The run has several pending approvals: name one', [{ path: '$.approvalId', message: `one of ${pending.map((p) => p.id).join(', ')}` }]);
  }

  /** Only the approval's roles (approver and admin by default) and, when set, its assignees may decide. */
  private authorize(approval: ApprovalRow, actor: DecisionActor): void {
    const role = actor.role ?? '';
    if (role !== 'admin' && !approval.roles.includes(role)) {
      throw new DomainError(DomainErrorCode.Forbidden, `Role ${role || 'none'} may not decide this approval (allowed: ${approval.roles.join(', ')})`);
    }
    if (approval.assignees.length > 0) {
      const identities = [actor.userId, actor.email, role, `role:${role}`].filter((x): x is string => Boolean(x));
      if (!identities.some((id) => approval.assignees.includes(id))) throw new DomainError(DomainErrorCode.Forbidden, 'You are not an assignee of this approval');
    }
    if (approval.quorum > 1 && !actor.userId) throw new DomainError(DomainErrorCode.Forbidden, 'A quorum approval must be decided by users (not API keys without a user)');
  }

  private async checkModifications(run: RunRow, approval: ApprovalRow, modifications: JsonValue | undefined): Promise<void> {
    if (modifications === undefined || modifications === null) return;
    const definition = await this.definitions.get(run.definition_id);
    const schema = definition.steps.get(approval.step_key)?.spec.approval?.modificationsSchema;
    if (!schema) return;
    const validate = ajv.compile(schema);
    if (validate(modifications)) return;
    const problems: ProblemDetail[] = (validate.errors ?? []).map((e) => ({
      path: `$.modifications${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`,
      message: e.message ?? 'invalid',
      code: e.keyword,
    }));
    throw DomainError.validation('Modifications do not match the modificationsSchema of this approval', problems);
  }

  private async release(client: Queryable, runs: Map<string, RunRow>, run: RunRow, stepKey: string, events: NewEvent[]): Promise<void> {
    const definition = await this.definitions.get(run.definition_id);
    const dependents = definition.steps.get(stepKey)?.dependents ?? [];
    for (const ready of await releaseDependents(client, dependents.map((key) => ({ runId: run.id, stepKey: key, n: 1 })))) {
      events.push({ runId: run.id, organizationId: run.organization_id, type: 'step.ready', stepKey: ready.step_key, payload: { attempt: 1 } });
    }
    await this.applier.completeFinishedRuns(client, runs, new Map([[run.id, 1]]), events);
  }

  private async retry(client: Queryable, stepId: string, input: JsonValue): Promise<void> {
    await client.query(
      `UPDATE orchestration_steps SET status = 'ready', output = NULL, manual_input = $2::jsonb, max_attempts = greatest(max_attempts, attempt + 1),
              next_attempt_at = now(), completed_at = NULL, updated_at = now()
        WHERE id = $1`,
      [stepId, JSON.stringify(input)],
    );
  }

  private async abort(client: Queryable, run: RunRow, events: NewEvent[]): Promise<void> {
    const cancelled = await cancelOpenSteps(client, [run.id]);
    await expireApprovalsOfRuns(client, [run.id]);
    await finishRuns(client, [{ id: run.id, status: 'cancelled', output: null, error: { reason: 'aborted at a checkpoint' } }]);
    for (const s of cancelled) events.push({ runId: run.id, organizationId: run.organization_id, type: 'step.cancelled', stepKey: s.step_key, payload: { reason: 'checkpoint_abort' } });
    events.push({ runId: run.id, organizationId: run.organization_id, type: 'run.cancelled', payload: { reason: 'aborted at a checkpoint' } });
    run.status = 'cancelled';
    if (cancelled.some((s) => s.was_running)) await notify(client, CANCEL_CHANNEL, run.id);
  }

  private async resumeIfNoneWaiting(client: Queryable, run: RunRow, events: NewEvent[]): Promise<void> {
    if (run.status !== 'awaiting_approval') return;
    if ((await pendingApprovalsOfRun(client, run.id)).length > 0) return;
    await setRunStatus(client, run.id, 'running');
    run.status = 'running';
    events.push({ runId: run.id, organizationId: run.organization_id, type: 'run.resumed', payload: {} });
  }
}
