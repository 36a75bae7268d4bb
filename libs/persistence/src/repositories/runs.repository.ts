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

  /**
   * By primary key alone, the organization and soft delete checked on the row: with `organization_id = ... AND id = ...`
   * in SQL, a planner whose statistics lag behind a fast-growing table (a fresh database, a burst of runs) ties the
   * primary key with the (organization, status) index and may scan every run of the organization (seen: 224 buffers
   * and 0.8 ms for 5,000 runs, against 3 buffers).
   */
  async findById(organizationId: string, id: string, manager?: EntityManager): Promise<OrchestrationRunEntity | null> {
    const run = await this.repo(manager).createQueryBuilder('r').where('r.id = :id', { id }).getOne();
    return run && run.organizationId === organizationId && run.deletedAt === null ? run : null;
  }

  /** The entity of a row read by plain SQL (`RETURNING *`, column names as in the table), as TypeORM would load it. */
  fromRow(row: Record<string, unknown>): OrchestrationRunEntity {
    const entity = this.repo().create();
    for (const column of this.runs.metadata.columns)
      (entity as unknown as Record<string, unknown>)[column.propertyName] = row[column.databaseName] ?? null;
    return entity;
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
