import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { stepStatusesFrom, type JsonObject, type JsonValue, type StepStatus } from '#core';
import { DATA_SOURCE } from '../database/database.tokens.js';
import { OrchestrationStepEntity, type StepType } from '../entities/orchestration-step.entity.js';
import { updateReturning } from './update-returning.js';

export interface NewStep {
  stepKey: string;
  position: number;
  type: StepType;
  agentSlug: string | null;
  dependsOn: string[];
  maxAttempts: number;
  timeoutMs?: number | null;
  input?: JsonValue | null;
  priority?: number;
  reversible?: boolean;
  rollback?: JsonObject | null;
}

export interface StepTransition {
  output?: JsonValue | null;
  error?: JsonValue | null;
  input?: JsonValue | null;
  nextAttemptAt?: Date | null;
}

@Injectable()
export class StepsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  private repo(manager: EntityManager = this.dataSource.manager) {
    return manager.getRepository(OrchestrationStepEntity);
  }

  /** Creates the steps of a run: those without dependencies start `ready`, the others `pending`. */
  async createForRun(organizationId: string, runId: string, steps: NewStep[], manager?: EntityManager): Promise<OrchestrationStepEntity[]> {
    const repo = this.repo(manager);
    const entities = steps.map((s) =>
      repo.create({
        organizationId,
        runId,
        stepKey: s.stepKey,
        position: s.position,
        type: s.type,
        agentSlug: s.agentSlug,
        dependsOn: s.dependsOn,
        pendingDependencies: s.dependsOn.length,
        maxAttempts: s.maxAttempts,
        timeoutMs: s.timeoutMs ?? null,
        input: s.input ?? null,
        priority: s.priority ?? 0,
        reversible: s.reversible ?? false,
        rollback: s.rollback ?? null,
        status: s.dependsOn.length === 0 ? 'ready' : 'pending',
        nextAttemptAt: s.dependsOn.length === 0 ? new Date() : null,
      }),
    );
    return repo.save(entities);
  }

  /** Steps of a run in definition order. */
  listForRun(organizationId: string, runId: string, manager?: EntityManager): Promise<OrchestrationStepEntity[]> {
    return this.repo(manager).find({ where: { organizationId, runId }, order: { position: 'ASC' } });
  }

  findByKey(organizationId: string, runId: string, stepKey: string, manager?: EntityManager): Promise<OrchestrationStepEntity | null> {
    return this.repo(manager).findOneBy({ organizationId, runId, stepKey });
  }

  /** Steps of the run that list `stepKey` among their dependencies. */
  dependents(organizationId: string, runId: string, stepKey: string, manager?: EntityManager): Promise<OrchestrationStepEntity[]> {
    return this.repo(manager)
      .createQueryBuilder('s')
      .where('s.organization_id = :organizationId AND s.run_id = :runId AND :stepKey = ANY(s.depends_on)', { organizationId, runId, stepKey })
      .orderBy('s.position', 'ASC')
      .getMany();
  }

  /** Steps of the run whose dependencies are all satisfied and that are still pending. */
  unblocked(organizationId: string, runId: string, manager?: EntityManager): Promise<OrchestrationStepEntity[]> {
    return this.repo(manager).find({ where: { organizationId, runId, status: 'pending', pendingDependencies: 0 }, order: { position: 'ASC' } });
  }

  /**
   * Compare-and-set on status: moves the step to `to` only from a state that allows it. Leaving `running`
   * gives up the lease: it belongs to the attempt that ran, and the next attempt takes a new one.
   */
  async transition(organizationId: string, id: string, to: StepStatus, data: StepTransition = {}, manager?: EntityManager): Promise<boolean> {
    const from = stepStatusesFrom(to);
    if (from.length === 0) return false; // nothing moves to this state (`IN ()` would not even parse)
    const set: Record<string, unknown> = { status: to, updatedAt: () => 'now()' };
    if (data.output !== undefined) set.output = data.output;
    if (data.error !== undefined) set.error = data.error;
    if (data.input !== undefined) set.input = data.input;
    if (data.nextAttemptAt !== undefined) set.nextAttemptAt = data.nextAttemptAt;
    if (to === 'running') set.startedAt = () => 'now()';
    if (['completed', 'failed', 'skipped', 'cancelled'].includes(to)) set.completedAt = () => 'now()';
    if (to !== 'running') {
      set.leaseOwner = null;
      set.leaseExpiresAt = null;
    }
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update(OrchestrationStepEntity)
      .set(set)
      .where('organization_id = :organizationId AND id = :id AND status IN (:...from)', { organizationId, id, from })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Starts a new attempt: attempt + 1, returns the new attempt number (null if the step is not ready). */
  async beginAttempt(organizationId: string, id: string, leaseOwner: string, leaseMs: number, manager?: EntityManager): Promise<number | null> {
    const rows = await updateReturning<{ attempt: number }>(
      manager ?? this.dataSource.manager,
      `UPDATE orchestration_steps
          SET status = 'running', attempt = attempt + 1, lease_owner = $3,
              lease_expires_at = now() + ($4 || ' milliseconds')::interval, started_at = now(), updated_at = now()
        WHERE organization_id = $1 AND id = $2 AND status = 'ready'
        RETURNING attempt`,
      [organizationId, id, leaseOwner, String(leaseMs)],
    );
    return rows[0]?.attempt ?? null;
  }

  /**
   * Decrements the pending-dependency counter of every dependent of `stepKey`; returns the keys that reached 0.
   * The counter never goes below 0: a negative count would hide the step from `unblocked` for ever.
   */
  async releaseDependents(organizationId: string, runId: string, stepKey: string, manager?: EntityManager): Promise<string[]> {
    const rows = await updateReturning<{ step_key: string; pending_dependencies: number }>(
      manager ?? this.dataSource.manager,
      `UPDATE orchestration_steps SET pending_dependencies = pending_dependencies - 1, updated_at = now()
        WHERE organization_id = $1 AND run_id = $2 AND $3 = ANY(depends_on) AND status = 'pending' AND pending_dependencies > 0
        RETURNING step_key, pending_dependencies`,
      [organizationId, runId, stepKey],
    );
    return rows.filter((r) => r.pending_dependencies === 0).map((r) => r.step_key);
  }

  countByStatus(organizationId: string, runId: string): Promise<Record<StepStatus, number>> {
    return this.dataSource
      .query(`SELECT status, count(*)::int AS n FROM orchestration_steps WHERE organization_id = $1 AND run_id = $2 GROUP BY status`, [organizationId, runId])
      .then((rows: { status: StepStatus; n: number }[]) => Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<StepStatus, number>);
  }
}
