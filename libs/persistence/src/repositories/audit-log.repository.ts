import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { JsonObject, Page, PageRequest } from '#core';
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

/** Filters of GET /audit; `action` may end in `.*` for every action of a target kind (`run.*`). */
export interface AuditFilter {
  actorType?: ActorType;
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

export interface AuditRecord {
  id: string;
  actorType: ActorType;
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
  createdAt: Date;
}

@Injectable()
export class AuditLogRepository {
  constructor(@InjectRepository(AuditLogEntity) private readonly entries: Repository<AuditLogEntity>) {}

  async append(organizationId: string, entry: AuditEntry, manager: SqlRunner = this.entries.manager): Promise<void> {
    await manager.query(
      `INSERT INTO audit_log (organization_id, actor_type, actor_id, action, target_type, target_id, details, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [organizationId, entry.actorType, entry.actorId, entry.action, entry.targetType ?? null, entry.targetId ?? null, entry.details ?? {}, entry.requestId ?? null],
    );
  }

  list(organizationId: string, filter: { targetId?: string; action?: string } = {}, limit = 100): Promise<AuditLogEntity[]> {
    return this.entries.find({
      where: { organizationId, ...(filter.targetId ? { targetId: filter.targetId } : {}), ...(filter.action ? { action: filter.action } : {}) },
      order: { id: 'DESC' },
      take: limit,
    });
  }

  /** Newest first, within one organization; time bounds use the (organization_id, created_at) index. */
  async search(organizationId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditRecord>> {
    const where = ['organization_id = $1'];
    const params: unknown[] = [organizationId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.actorType) add('actor_type = ?', filter.actorType);
    if (filter.actorId) add('actor_id = ?::uuid', filter.actorId);
    if (filter.action?.endsWith('.*')) add("action LIKE ? || '.%'", filter.action.slice(0, -2).replace(/[\\%_]/g, (c) => `\\${c}`));
    else if (filter.action) add('action = ?', filter.action);
    if (filter.targetType) add('target_type = ?', filter.targetType);
    if (filter.targetId) add('target_id = ?', filter.targetId);
    if (filter.from) add('created_at >= ?', filter.from);
    if (filter.to) add('created_at < ?', filter.to);
    const clause = where.join(' AND ');
    const [{ total }] = await this.entries.manager.query(`SELECT count(*)::int AS total FROM audit_log WHERE ${clause}`, params);
    const rows: {
      id: string;
      actor_type: ActorType;
      actor_id: string | null;
      action: string;
      target_type: string | null;
      target_id: string | null;
      details: Record<string, unknown>;
      request_id: string | null;
      created_at: Date;
    }[] = await this.entries.manager.query(
      `SELECT id::text, actor_type, actor_id, action, target_type, target_id, details, request_id, created_at
         FROM audit_log WHERE ${clause} ORDER BY created_at DESC, id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, page.limit, page.offset],
    );
    return {
      items: rows.map((r) => ({ id: r.id, actorType: r.actor_type, actorId: r.actor_id, action: r.action, targetType: r.target_type, targetId: r.target_id, details: r.details, requestId: r.request_id, createdAt: r.created_at })),
      total,
      limit: page.limit,
      offset: page.offset,
    };
  }
}
