import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import type { JsonObject, JsonValue } from '#core';
import { OrchestrationStepEntity, type StepType } from '../entities/orchestration-step.entity.js';

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

/**
 * CRUD and reads of orchestration_steps for the API and the CLI. Every status change of a step is the engine's
 * (libs/engine/src/transitions/, written by its store/ on the engine pool): this repository has no transition API.
 */
@Injectable()
export class StepsRepository {
  constructor(@InjectRepository(OrchestrationStepEntity) private readonly steps: Repository<OrchestrationStepEntity>) {}

  /** Through `manager` inside the caller's transaction. */
  private repo(manager?: EntityManager): Repository<OrchestrationStepEntity> {
    return manager ? manager.getRepository(OrchestrationStepEntity) : this.steps;
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
}
