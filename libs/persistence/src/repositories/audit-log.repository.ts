import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { JsonObject } from '#core';
import { DATA_SOURCE } from '../database/database.tokens.js';
import { AuditLogEntity, type ActorType } from '../entities/audit-log.entity.js';

export interface AuditEntry {
  actorType: ActorType;
  actorId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: JsonObject;
  requestId?: string | null;
}

/** Anything that runs SQL: a TypeORM EntityManager or a pg client inside the caller's transaction. */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

@Injectable()
export class AuditLogRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async append(organizationId: string, entry: AuditEntry, manager: SqlRunner = this.dataSource.manager): Promise<void> {
    await manager.query(
      `INSERT INTO audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, details, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [organizationId, entry.actorType, entry.actorId, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.details ?? {}, entry.requestId ?? null],
    );
  }

  list(organizationId: string, filter: { targetId?: string; action?: string } = {}, limit = 100): Promise<AuditLogEntity[]> {
    return this.dataSource.getRepository(AuditLogEntity).find({
      where: { organizationId, ...(filter.targetId ? { targetId: filter.targetId } : {}), ...(filter.action ? { action: filter.action } : {}) },
      order: { id: 'DESC' },
      take: limit,
    });
  }
}
