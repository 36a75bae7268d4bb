import { Inject, Injectable } from '@nestjs/common';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { canTransitionRun, runStatusesFrom, type JsonValue, type Page, type PageRequest, type RunStatus } from '#core';
import { DATA_SOURCE } from '../database/database.tokens.js';
import { OrchestrationRunEntity } from '../entities/orchestration-run.entity.js';
import { updateReturning } from './update-returning.js';

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

export interface RunTransition {
  output?: JsonValue | null;
  error?: JsonValue | null;
}

@Injectable()
export class RunsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  private repo(manager: EntityManager = this.dataSource.manager) {
    return manager.getRepository(OrchestrationRunEntity);
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

  /** Locks the run row for the rest of the transaction (event seq and state changes are serialised by it). */
  lockById(organizationId: string, id: string, manager: EntityManager): Promise<OrchestrationRunEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('r')
      .setLock('pessimistic_write')
      .where('r.organization_id = :organizationId AND r.id = :id', { organizationId, id })
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

  children(organizationId: string, parentRunId: string): Promise<OrchestrationRunEntity[]> {
    return this.repo().find({ where: { organizationId, parentRunId, deletedAt: IsNull() }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /**
   * Moves the run to `to` only from a state that allows it (a compare-and-set on status). Returns the
   * updated run, or null when the run was not in such a state (someone else moved it first), is deleted
   * or belongs to another organization.
   */
  async transition(organizationId: string, id: string, to: RunStatus, data: RunTransition = {}, manager?: EntityManager): Promise<OrchestrationRunEntity | null> {
    const from = runStatusesFrom(to);
    if (from.length === 0) return null; // nothing moves to this state (`IN ()` would not even parse)
    const set: Record<string, unknown> = { status: to, updatedAt: () => 'now()' };
    if (to === 'running') set.startedAt = () => 'coalesce(started_at, now())';
    if (['completed', 'failed', 'cancelled'].includes(to)) set.completedAt = () => 'now()';
    if (data.output !== undefined) set.output = data.output;
    if (data.error !== undefined) set.error = data.error;
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update(OrchestrationRunEntity)
      .set(set)
      .where('organization_id = :organizationId AND id = :id AND status IN (:...from) AND deleted_at IS NULL', { organizationId, id, from })
      .execute();
    return (result.affected ?? 0) > 0 ? this.findById(organizationId, id, manager) : null;
  }

  isAllowed(from: RunStatus, to: RunStatus): boolean {
    return canTransitionRun(from, to);
  }

  /** Reserves `count` event sequence numbers for the run; call with the run locked or in the same statement. */
  async reserveSeq(runId: string, count: number, manager: EntityManager): Promise<number> {
    const rows = await updateReturning<{ last_seq: number }>(
      manager,
      'UPDATE orchestration_runs SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq',
      [runId, count],
    );
    if (rows.length === 0) throw new Error(`reserveSeq: run ${runId} does not exist`);
    return rows[0].last_seq - count + 1;
  }

  async softDelete(organizationId: string, id: string): Promise<boolean> {
    // Only a live run: deleting twice keeps the first deletion time and answers false.
    const result = await this.repo().update({ organizationId, id, deletedAt: IsNull() }, { deletedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }
}
