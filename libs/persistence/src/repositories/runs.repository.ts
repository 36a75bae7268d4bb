import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import type { JsonValue, Page, PageRequest, RunStatus } from '#core';
import { OrchestrationRunEntity } from '../entities/orchestration-run.entity.js';

export interface NewRun {
  definitionId: string;
  definitionSlug: string;
  definitionVersion: number;
  input: JsonValue;
  priority?: number;
  idempotencyKey?: string | null;
  parentRunId?: string | null;
  parentStepId?: string | null;
  createdBy?: string | null;
}

export interface RunFilter {
  status?: RunStatus;
  definition?: string;
  parentRunId?: string;
  from?: Date;
  to?: Date;
}

/**
 * CRUD and reads of orchestration_runs for the API and the CLI (`create` writes a bare run row, for fixtures; the
 * engine creates runs with their steps in store/run-creation.repository.ts). Status changes are the engine's
 * (libs/engine/src/transitions/): no transition API here.
 */
@Injectable()
export class RunsRepository {
  constructor(@InjectRepository(OrchestrationRunEntity) private readonly runs: Repository<OrchestrationRunEntity>) {}

  /** Through `manager` inside the caller's transaction. */
  private repo(manager?: EntityManager): Repository<OrchestrationRunEntity> {
    return manager ? manager.getRepository(OrchestrationRunEntity) : this.runs;
  }

  async create(organizationId: string, run: NewRun, manager?: EntityManager): Promise<OrchestrationRunEntity> {
    const repo = this.repo(manager);
    return repo.save(
      repo.create({
        organizationId,
        definitionId: run.definitionId,
        definitionSlug: run.definitionSlug,
        definitionVersion: run.definitionVersion,
        input: run.input,
        priority: run.priority ?? 0,
        idempotencyKey: run.idempotencyKey ?? null,
        parentRunId: run.parentRunId ?? null,
        parentStepId: run.parentStepId ?? null,
        createdBy: run.createdBy ?? null,
        status: 'pending',
      }),
    );
  }

  findById(organizationId: string, id: string, manager?: EntityManager): Promise<OrchestrationRunEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('r')
      .where('r.organization_id = :organizationId AND r.id = :id AND r.deleted_at IS NULL', { organizationId, id })
      .getOne();
  }

  findByIdempotencyKey(organizationId: string, idempotencyKey: string, manager?: EntityManager): Promise<OrchestrationRunEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('r')
      .where('r.organization_id = :organizationId AND r.idempotency_key = :idempotencyKey', { organizationId, idempotencyKey })
      .getOne();
  }

  async list(organizationId: string, filter: RunFilter, page: PageRequest): Promise<Page<OrchestrationRunEntity>> {
    const qb = this.repo().createQueryBuilder('r').where('r.organization_id = :organizationId AND r.deleted_at IS NULL', { organizationId });
    if (filter.status) qb.andWhere('r.status = :status', { status: filter.status });
    if (filter.definition) qb.andWhere('r.definition_slug = :definition', { definition: filter.definition });
    if (filter.parentRunId) qb.andWhere('r.parent_run_id = :parentRunId', { parentRunId: filter.parentRunId });
    if (filter.from) qb.andWhere('r.created_at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('r.created_at < :to', { to: filter.to });
    const [items, total] = await qb.orderBy('r.created_at', 'DESC').addOrderBy('r.id', 'DESC').skip(page.offset).take(page.limit).getManyAndCount();
    return { items, total, limit: page.limit, offset: page.offset };
  }
}
