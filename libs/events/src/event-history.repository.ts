import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Page, PageRequest } from '#core';
import type { EventRow } from './event-record.js';

/** Filters of GET /orchestrations/events; `types` already expanded from wildcards (null: every type). */
export interface EventHistoryFilter {
  runId?: string;
  definition?: string;
  types?: readonly string[] | null;
  from?: Date;
  to?: Date;
}

/**
 * The organization's event history, newest first, for GET /orchestrations/events. It walks the
 * (organization_id, id) index backwards; the run and definition filters narrow through the run row.
 */
@Injectable()
export class EventHistoryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async search(organizationId: string, filter: EventHistoryFilter, page: PageRequest): Promise<Page<EventRow>> {
    const where = ['e.organization_id = $1'];
    const params: unknown[] = [organizationId];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replaceAll('?', `$${params.length}`));
    };
    if (filter.runId) add('e.run_id = ?::uuid', filter.runId);
    if (filter.definition) add('e.run_id IN (SELECT id FROM orchestration_runs WHERE organization_id = $1 AND definition_slug = ?)', filter.definition);
    if (filter.types) add('e.type = ANY(?::text[])', [...filter.types]);
    if (filter.from) add('e.created_at >= ?', filter.from);
    if (filter.to) add('e.created_at < ?', filter.to);
    const clause = where.join(' AND ');
    const [{ total }] = await this.dataSource.query(`SELECT count(*)::int AS total FROM orchestration_events e WHERE ${clause}`, params);
    const items: EventRow[] = await this.dataSource.query(
      `SELECT e.id::text, e.organization_id, e.run_id, e.seq, e.type, e.step_key, e.payload, e.created_at
         FROM orchestration_events e WHERE ${clause} ORDER BY e.id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, page.limit, page.offset],
    );
    return { items, total, limit: page.limit, offset: page.offset };
  }
}
