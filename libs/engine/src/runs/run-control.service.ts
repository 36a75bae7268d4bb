/**
 * Cancellation and manual intervention. Each action is one transaction under the run's lock that changes
 * state, appends events and writes the audit entry with the actor, so the log never disagrees with the state.
 */
import { Injectable } from '@nestjs/common';
import { assertRunTransition, assertStepTransition, DomainError, TERMINAL_RUN_STATUSES, type JsonValue, type RunStatus } from '#core';
import { WORK_CHANNEL } from '#events';
import { AuditLogRepository, type ActorType } from '#persistence';
import { RequestContext } from '#observability';
import { DefinitionCache } from '../compiled-definition.js';
import { EngineDatabase, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import { markSkipped, prepareRetry, recomputePending, recountRemaining, reviveCancelledSteps, reviveRun, stepByKey } from '../store/run-control.repository.js';
import { lockRunWithAncestors, notify, type RunRow } from '../store/step-transition.repository.js';
import { terminateRuns } from '../transitions/run-termination.transition.js';
import { ResultApplier } from '../worker/result-applier.js';

export interface Actor {
  type: ActorType;
  id: string | null;
}

@Injectable()
export class RunControlService {
  constructor(
    private readonly db: EngineDatabase,
    private readonly definitions: DefinitionCache,
    private readonly applier: ResultApplier,
    private readonly audit: AuditLogRepository,
  ) {}

  cancel(organizationId: string, runId: string, actor: Actor, reason?: string): Promise<void> {
    return this.db.tx(async (client) => {
      const { run } = await this.lock(client, organizationId, runId);
      if (TERMINAL_RUN_STATUSES.includes(run.status)) throw DomainError.invalidState(`Run ${runId} is already ${run.status}`);
      const events: NewEvent[] = [];
      const payload = { by: actor.id, reason: reason ?? null };
      await terminateRuns(client, this.definitions, [{ run, status: 'cancelled', error: reason ? { reason } : null, stepReason: 'run_cancelled', payload }], events);
      // A cancelled child cancels its parent step (and the parent run with it).
      await this.applier.settleChildren(client, events);
      await appendEvents(client, events);
      await this.audited(client, organizationId, actor, 'run.cancel', runId, { reason: reason ?? null });
    });
  }

  /** Runs a failed step again, optionally with an edited input; revives a failed run. */
  retryStep(organizationId: string, runId: string, stepKey: string, actor: Actor, input?: JsonValue): Promise<void> {
    return this.db.tx(async (client) => {
      const { run } = await this.lock(client, organizationId, runId);
      const step = await this.step(client, runId, stepKey);
      this.assertIntervenable(run.status, runId);
      if (step.status !== 'failed') throw DomainError.invalidState(`Step ${stepKey} is ${step.status}; only a failed step can be retried`);
      assertStepTransition(step.status, 'ready'); // through pending, recounted below (the state machine's failed -> ready)
      const definition = await this.definitions.get(run.definition_id);
      const extra = definition.steps.get(stepKey)?.retry.maxAttempts ?? 1;
      const events: NewEvent[] = [];
      if (run.status === 'failed') await reviveCancelledSteps(client, runId);
      await prepareRetry(client, step.id, extra, input);
      await this.resume(client, run, events);
      await this.audited(client, organizationId, actor, 'step.retry', runId, { stepKey, input: input === undefined ? null : input });
    });
  }

  /** Skips a step that has not completed, optionally with a substitute output its dependents receive. */
  skipStep(organizationId: string, runId: string, stepKey: string, actor: Actor, output?: JsonValue): Promise<void> {
    return this.db.tx(async (client) => {
      const { run, runs } = await this.lock(client, organizationId, runId);
      const step = await this.step(client, runId, stepKey);
      this.assertIntervenable(run.status, runId);
      // In a failed run only the failed step can be skipped (that is what revives it); in a live run, any step not yet started.
      const skippable = run.status === 'failed' ? ['failed'] : ['pending', 'ready'];
      if (!skippable.includes(step.status)) {
        throw DomainError.invalidState(`Step ${stepKey} is ${step.status}; in a ${run.status} run only ${skippable.join(' or ')} steps can be skipped`);
      }
      assertStepTransition(step.status, 'skipped');
      const events: NewEvent[] = [{ runId, organizationId, type: 'step.skipped', stepKey, payload: { output: output ?? null, by: actor.id } }];
      if (run.status === 'failed') await reviveCancelledSteps(client, runId);
      await markSkipped(client, step.id, output ?? null);
      await this.resume(client, run, events, runs);
      await this.audited(client, organizationId, actor, 'step.skip', runId, { stepKey, output: output ?? null });
    });
  }

  /** After an intervention: make unblocked steps ready, recount, revive or complete the run, append events. */
  private async resume(client: Queryable, run: RunRow, events: NewEvent[], runs = new Map([[run.id, run]])): Promise<void> {
    const base = { runId: run.id, organizationId: run.organization_id };
    const ready = await recomputePending(client, run.id);
    const remaining = run.status === 'failed' ? await reviveRun(client, run.id) : await recountRemaining(client, run.id);
    if (run.status === 'failed') {
      assertRunTransition(run.status, 'running');
      events.push({ ...base, type: 'run.resumed', payload: {} });
      run.status = 'running';
    }
    for (const key of ready) events.push({ ...base, type: 'step.ready', stepKey: key, payload: {} });
    if (remaining === 0) await this.applier.completeRuns(client, runs, [run.id], events);
    const settled = await this.applier.settleChildren(client, events);
    await appendEvents(client, events);
    if (ready.length > 0 || settled.wake) await notify(client, WORK_CHANNEL);
  }

  private async lock(client: Queryable, organizationId: string, runId: string): Promise<{ run: RunRow; runs: Map<string, RunRow> }> {
    const runs = await lockRunWithAncestors(client, runId);
    const run = runs.get(runId);
    if (!run || run.organization_id !== organizationId) throw DomainError.notFound('Run', runId);
    return { run, runs };
  }

  private async step(client: Queryable, runId: string, stepKey: string) {
    const step = await stepByKey(client, runId, stepKey);
    if (!step) throw DomainError.notFound('Step', `${runId}/${stepKey}`);
    return step;
  }

  private assertIntervenable(status: RunStatus, runId: string): void {
    if (status === 'completed' || status === 'cancelled') throw DomainError.invalidState(`Run ${runId} is ${status}; it can no longer be changed`);
  }

  private audited(client: Queryable, organizationId: string, actor: Actor, action: string, runId: string, details: Record<string, JsonValue>): Promise<void> {
    return this.audit.append(organizationId, { actorType: actor.type, actorId: actor.id, action, targetType: 'run', targetId: runId, details, requestId: RequestContext.requestId() ?? null }, client);
  }
}
