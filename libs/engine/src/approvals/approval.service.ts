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
import {
  assertStepTransition,
  assertUnreachable,
  deepMerge,
  DomainError,
  DomainErrorCode,
  jsonDiff,
  type JsonValue,
  type ProblemDetail,
  type StepStatus,
} from '#core';
import { WORK_CHANNEL } from '#events';
import { DefinitionCache } from '../compiled-definition.js';
import { commitWith, EngineDatabase, together, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import {
  closeApproval,
  continueVotes,
  lockApprovalWithStep,
  lockRunOfApproval,
  pendingApprovalsOfRun,
  readyForRetry,
  recordDecision,
  setRunStatus,
  type ApprovalRow,
  type DecisionStep,
  type LockedApproval,
  type NewDecision,
} from '../store/approval.repository.js';
import { deleteGroupTurns } from '../store/group-turn.repository.js';
import { markSkipped } from '../store/run-control.repository.js';
import { lockRuns, notify, raiseRunBudget, updateSteps, type ReleasedStep, type RunRow } from '../store/step-transition.repository.js';
import { terminateRuns } from '../transitions/run-termination.transition.js';
import { EngineWorker } from '../worker/engine-worker.js';
import { ResultApplier, type FastClaim } from '../worker/result-applier.js';
import { isInputRequest } from '../worker/step-outcome.js';
import { isBudgetRequest, type BudgetRequest } from '../worker/budget-guard.js';
import type { ClaimedStep } from '../worker/step-claimer.js';

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

/** A decided approval, as the decision's effects need it (see ApprovalService.apply). */
interface DecidedApproval {
  run: RunRow;
  approval: LockedApproval;
  step: DecisionStep;
  decision: Decision;
  command: DecideCommand;
  /** The deciding process's free worker slots: released steps start on it (see EngineWorker.lendSlots). */
  fast: FastClaim | null;
  /** The decision resumes the paused run (no other approval of it pending). */
  resumed: boolean;
  /** The statement recording the decision, already issued: the effects' first statements go out with it. */
  recorded: Promise<void>;
}

/** What each decision but abort makes of the decided step. */
const DECIDED_STEP_STATUS: Record<Exclude<Decision, 'abort'>, StepStatus> = { continue: 'completed', skip: 'skipped', retry: 'ready' };

/** The limits a continue at a budget checkpoint sets: `{ maxTokens?, maxCostUsd? }`, above what was used (else 400). */
function raisedLimits(request: BudgetRequest, modifications: JsonValue | null): { maxTokens?: number; maxCostUsd?: number } {
  const m = (modifications ?? {}) as { maxTokens?: unknown; maxCostUsd?: unknown };
  const problems: ProblemDetail[] = [];
  const out: { maxTokens?: number; maxCostUsd?: number } = {};
  if (m.maxTokens !== undefined) {
    if (!Number.isInteger(m.maxTokens) || (m.maxTokens as number) <= 0) problems.push({ path: '$.modifications.maxTokens', message: 'must be a positive integer' });
    else out.maxTokens = m.maxTokens as number;
  }
  if (m.maxCostUsd !== undefined) {
    if (typeof m.maxCostUsd !== 'number' || !(m.maxCostUsd > 0)) problems.push({ path: '$.modifications.maxCostUsd', message: 'must be a positive number' });
    else out.maxCostUsd = m.maxCostUsd;
  }
  const reached = out[request.limit];
  if (problems.length === 0 && (reached === undefined || reached <= request.used))
    problems.push({ path: `$.modifications.${request.limit}`, message: `raise ${request.limit} above the ${request.used} used (it was ${request.max})` });
  if (problems.length > 0) throw DomainError.validation('A budget checkpoint is continued with higher limits: modifications { maxTokens?, maxCostUsd? }', problems);
  return out;
}

/** The answer of a retry decision on an input-required checkpoint: `modifications.reply`, or the modifications. */
function replyOf(modifications: JsonValue | null): JsonValue {
  if (modifications !== null && typeof modifications === 'object' && !Array.isArray(modifications) && 'reply' in modifications) return modifications.reply;
  return modifications;
}

const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);

@Injectable()
export class ApprovalService {
  constructor(
    private readonly db: EngineDatabase,
    private readonly definitions: DefinitionCache,
    private readonly applier: ResultApplier,
    private readonly worker: EngineWorker,
  ) {}

  decide(command: DecideCommand): Promise<DecisionResult> {
    if (command.reason !== 'timeout' && !(DECISIONS as readonly string[]).includes(command.decision ?? '')) {
      throw DomainError.validation(`decision must be one of ${DECISIONS.join(', ')}`, [
        { path: '$.decision', message: `must be one of ${DECISIONS.join(', ')}` },
      ]);
    }
    // When this process runs a worker, the steps the decision makes ready start on it inside the decision's
    // transaction (see EngineWorker.lendSlots): the dependent runs as soon as the decision commits.
    return this.worker.lendSlots((fast) => this.db.tx((client) => this.decideIn(client, command, fast)));
  }

  private async decideIn(
    client: Queryable,
    command: DecideCommand,
    fast: FastClaim | null,
  ): Promise<{ value: DecisionResult; claimed: ClaimedStep[] }> {
    const { run, approval } = await this.lockTarget(client, command);
    const decision = await this.admissible(run, approval, command);
    const step = approval.step;
    if (!step) throw DomainError.notFound('Step', approval.step_key);
    const result = (resolved: boolean, votes: number): DecisionResult => ({
      approvalId: approval.id,
      runId: run.id,
      decision,
      resolved,
      votes,
      quorum: approval.quorum,
    });
    const timeout = command.reason === 'timeout';
    const resumes = decision !== 'abort' && run.status === 'awaiting_approval' && approval.others_pending === 0;
    const entry = this.historyEntry(approval, step, decision, command);
    if (decision === 'continue' && !timeout && approval.quorum > 1) {
      // A continue vote of a quorum closes the approval only once enough distinct approvers voted.
      await this.recorded(recordDecision(client, entry, null, false));
      const votes = await continueVotes(client, approval.id);
      if (votes < approval.quorum) return { value: result(false, votes), claimed: [] };
      await together([
        closeApproval(client, approval.id, 'resolved', decision, command.actor.userId, entry.modifications, entry.comment),
        resumes ? setRunStatus(client, run.id, 'running') : undefined,
      ]);
      return {
        value: result(true, 0),
        claimed: await this.apply(client, { run, approval, step, decision, command, fast, resumed: resumes, recorded: Promise.resolve() }),
      };
    }
    // The decision is recorded, the approval closed and the run resumed by one statement, sent together with the
    // decision's first effects (see apply).
    const recorded = this.recorded(recordDecision(client, entry, timeout ? 'expired' : 'resolved', resumes));
    return { value: result(true, 0), claimed: await this.apply(client, { run, approval, step, decision, command, fast, resumed: resumes, recorded }) };
  }

  /** The decision that applies (a timeout's is the approval's onTimeout), once it is known to be allowed now. */
  private async admissible(run: RunRow, approval: ApprovalRow, command: DecideCommand): Promise<Decision> {
    const timeout = command.reason === 'timeout';
    if (timeout && !approval.expired) throw DomainError.invalidState(`Approval ${approval.id} has not expired`);
    const decision: Decision = timeout ? approval.on_timeout : (command.decision as Decision);
    if (approval.status !== 'pending') {
      throw DomainError.conflict(
        `Approval ${approval.id} is already ${approval.status}${approval.decision ? ` (${approval.decision})` : ''}`,
        { status: approval.status, decision: approval.decision },
      );
    }
    if (timeout) return decision;
    if (approval.expired)
      throw DomainError.conflict(`Approval ${approval.id} expired at ${approval.expires_at?.toISOString()}; its timeout policy applies`);
    if (!approval.decisions.includes(decision)) {
      throw DomainError.validation(`Decision ${decision} is not allowed here`, [
        { path: '$.decision', message: `allowed: ${approval.decisions.join(', ')}` },
      ]);
    }
    this.authorize(approval, command.actor);
    await this.checkModifications(run, approval, command.modifications);
    return decision;
  }

  /** What the history keeps of this decision: who, what they saw, what they changed (and its diff). */
  private historyEntry(approval: LockedApproval, step: DecisionStep, decision: Decision, command: DecideCommand): NewDecision {
    const modifications = command.modifications ?? null;
    const base = decision === 'retry' ? step.input : approval.payload;
    return {
      organizationId: approval.organization_id,
      approvalId: approval.id,
      actorType: command.actor.type,
      actorId: command.actor.id,
      decidedBy: command.actor.userId,
      decision,
      modifications,
      diff: modifications === null ? [] : (jsonDiff(base, deepMerge(base, modifications)) as unknown as JsonValue),
      payloadSeen: approval.payload,
      comment: command.comment ?? null,
      reason: command.reason === 'timeout' ? 'timeout' : 'human',
    };
  }

  /** A second vote by the same approver breaks the history's uniqueness: that is a conflict, not a failure. */
  private recorded(statement: Promise<void>): Promise<void> {
    return statement.catch((error: unknown) => {
      if ((error as { code?: string }).code === '23505')
        throw DomainError.conflict('You already decided this approval; a quorum needs distinct approvers');
      throw error;
    });
  }

  /**
   * What the closed approval's decision does to the run, its step and the steps after it; returns the steps started
   * here. Its first statements go out together with `recorded` (already issued, so executed first).
   */
  private async apply(client: Queryable, decided: DecidedApproval): Promise<ClaimedStep[]> {
    const { run, approval, step, decision, command, fast, resumed, recorded } = decided;
    if (resumed) run.status = 'running';
    const runs = new Map([[run.id, run]]);
    const modifications = command.modifications ?? null;
    const ev = { runId: run.id, organizationId: run.organization_id, stepKey: approval.step_key };
    const reason = command.reason === 'timeout' ? 'timeout' : 'human';
    const events: NewEvent[] = [
      {
        ...ev,
        type: 'checkpoint.resolved',
        payload: { approvalId: approval.id, decision, by: command.actor.userId, reason, modifications },
      },
    ];
    let startable: ReleasedStep[] = [];
    let output: JsonValue = null;
    if (decision !== 'abort') assertStepTransition(step.status, DECIDED_STEP_STATUS[decision]);
    if (decision === 'abort') {
      await together([recorded, this.abort(client, run, events)]);
    } else if (decision === 'continue' && isBudgetRequest(step.output)) {
      // A budget checkpoint: the decision raises the limit it reached, and the step runs (the attempt was not spent).
      const raised = raisedLimits(step.output, modifications);
      const budget = step.output.scope === 'run' ? raised : { agents: { ...(run.budget?.agents ?? {}), [step.output.agent as string]: { ...(run.budget?.agents?.[step.output.agent as string] ?? {}), ...raised } } };
      events.push({ ...ev, type: 'step.ready', payload: { attempt: step.attempt + 1, reason: 'budget_raised', budget } });
      const [, , retried] = await together([recorded, raiseRunBudget(client, run.id, budget), readyForRetry(client, step.id, step.input)]);
      run.budget = { ...(run.budget ?? {}), ...budget }; // the step may start below, in this transaction
      startable = [retried];
    } else if (decision === 'continue') {
      output = deepMerge(step.output, modifications ?? undefined);
      events.push({ ...ev, type: 'step.completed', payload: { attempt: step.attempt, output, approved: true } });
      const completed = updateSteps(client, [
        { id: step.id, status: 'completed', attempt: step.attempt, leaseLosses: 0, output, error: null, delayMs: null },
      ]);
      [, , startable] = await together([recorded, completed, this.release(client, runs, run, approval.step_key, events, fast)]);
    } else if (decision === 'skip') {
      events.push({ ...ev, type: 'step.skipped', payload: { output: null, by: command.actor.userId, approvalId: approval.id } });
      const skipped = markSkipped(client, step.id, null);
      [, , startable] = await together([recorded, skipped, this.release(client, runs, run, approval.step_key, events, fast)]);
    } else if (decision === 'retry') {
      events.push({ ...ev, type: 'step.ready', payload: { attempt: step.attempt + 1, reason: 'approval_retry' } });
      // Answering an agent's question (an input-required checkpoint) resumes its task with the reply.
      const asked = isInputRequest(step.output) ? step.output : null;
      const input = asked ? { resume: { remoteTask: asked.remoteTask, reply: replyOf(modifications) } } : deepMerge(step.input, modifications ?? undefined);
      // A group step retried at its checkpoint talks again from the first turn (with the modified input).
      const group = (await this.definitions.get(run.definition_id)).steps.get(approval.step_key)?.group;
      const [, retried] = await together([recorded, readyForRetry(client, step.id, input), group ? deleteGroupTurns(client, step.id) : undefined]);
      startable = [retried];
    } else {
      assertUnreachable(decision, 'decision');
    }
    // Not when the decided step was the run's last: the run completed instead.
    if (resumed && run.status === 'running')
      events.push({ runId: run.id, organizationId: run.organization_id, type: 'run.resumed', payload: {} });
    const known = new Map([[run.id, new Map([[approval.step_key, output]])]]);
    const { claimed, applied } = await this.applier.startReleased(
      client,
      runs,
      startable,
      fast,
      events,
      decision === 'retry' ? undefined : known,
    );
    // The decision may have ended the run: when it is a child, its parent step learns it here.
    const settled = await this.applier.settleChildren(client, events, fast ? { ...fast, limit: fast.limit - claimed.length } : null);
    commitWith(client, applied, settled.applied, appendEvents(client, events));
    if (startable.length > claimed.length || settled.wake) await notify(client, WORK_CHANNEL);
    return [...claimed, ...settled.claimed];
  }

  /**
   * Locks the run, then the approval (named, or the run's only pending one when the decision names just the run).
   * Naming the approval, both locks travel in one round trip: an approval's run never changes, and the server takes
   * them in the order sent, run first, like every other writer of the run.
   */
  private async lockTarget(client: Queryable, command: DecideCommand): Promise<{ run: RunRow; approval: LockedApproval }> {
    if (command.approvalId) {
      const [run, approval] = await together([
        lockRunOfApproval(client, command.organizationId, command.approvalId, command.runId ?? null),
        lockApprovalWithStep(client, command.approvalId),
      ]);
      if (!run || !approval || approval.run_id !== run.id) throw DomainError.notFound('Approval', command.approvalId);
      return { run, approval };
    }
    if (!command.runId) throw DomainError.validation('Name the approval to decide', [{ path: '$.approvalId', message: 'required' }]);
    const run = (await lockRuns(client, [command.runId])).get(command.runId);
    if (!run || run.organization_id !== command.organizationId) throw DomainError.notFound('Run', command.runId);
    const approval = await lockApprovalWithStep(client, await this.soleApproval(client, run));
    if (!approval) throw DomainError.notFound('Approval', command.runId);
    return { run, approval };
  }

  /** The run's only pending approval, for a decision that names just the run. */
  private async soleApproval(client: Queryable, run: RunRow): Promise<string> {
    const pending = await pendingApprovalsOfRun(client, run.id);
    if (pending.length === 1) return pending[0].id;
    if (pending.length === 0) throw DomainError.invalidState(`Run ${run.id} has no pending approval`);
    throw DomainError.validation('The run has several pending approvals: name one', [
      { path: '$.approvalId', message: `one of ${pending.map((p) => p.id).join(', ')}` },
    ]);
  }

  /** Only the approval's roles (approver and admin by default) and, when set, its assignees may decide. */
  private authorize(approval: ApprovalRow, actor: DecisionActor): void {
    const role = actor.role ?? '';
    if (role !== 'admin' && !approval.roles.includes(role)) {
      throw new DomainError(
        DomainErrorCode.Forbidden,
        `Role ${role || 'none'} may not decide this approval (allowed: ${approval.roles.join(', ')})`,
      );
    }
    if (approval.assignees.length > 0) {
      const identities = [actor.userId, actor.email, role, `role:${role}`].filter((x): x is string => Boolean(x));
      if (!identities.some((id) => approval.assignees.includes(id)))
        throw new DomainError(DomainErrorCode.Forbidden, 'You are not an assignee of this approval');
    }
    if (approval.quorum > 1 && !actor.userId)
      throw new DomainError(DomainErrorCode.Forbidden, 'A quorum approval must be decided by users (not API keys without a user)');
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

  /** Counts the dependents of the decided step down; returns those it unblocked (promoted to ready unless `fast`). */
  private async release(
    client: Queryable,
    runs: Map<string, RunRow>,
    run: RunRow,
    stepKey: string,
    events: NewEvent[],
    fast: FastClaim | null,
  ): Promise<ReleasedStep[]> {
    const definition = await this.definitions.get(run.definition_id);
    const dependents = definition.steps.get(stepKey)?.dependents ?? [];
    const releasing = this.applier.release(
      client,
      runs,
      dependents.map((key) => ({ runId: run.id, stepKey: key, n: 1 })),
      !fast,
      events,
    );
    const [released] = await together([releasing, this.applier.completeFinishedRuns(client, runs, new Map([[run.id, 1]]), events)]);
    return released;
  }

  /** Abort ends the run as cancelled (see terminateRuns). */
  private abort(client: Queryable, run: RunRow, events: NewEvent[]): Promise<void> {
    const reason = 'aborted at a checkpoint';
    return terminateRuns(client, this.definitions, [{ run, status: 'cancelled', error: { reason }, stepReason: 'checkpoint_abort', payload: { reason } }], events);
  }
}
