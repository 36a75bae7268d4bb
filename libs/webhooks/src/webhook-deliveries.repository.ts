/** What an admin sees of the outbox: deliveries of one subscription with every attempt, and manual redelivery. */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Page, PageRequest } from '#core';

export const DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryAttempt {
  attempt: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
  at: Date;
}

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  /** Attempts left in the current budget start after this many (moved by a manual redelivery). */
  attemptBase: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastResponse: string | null;
  deliveredAt: Date | null;
  deadAt: Date | null;
  createdAt: Date;
  attemptLog: DeliveryAttempt[];
}

interface DeliveryRow {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  attempt_base: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  last_response: string | null;
  delivered_at: Date | null;
  dead_at: Date | null;
  created_at: Date;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
  duration_ms: number;
  created_at: Date;
}

const COLUMNS = `d.id, d.subscription_id, d.event_id::text AS event_id, d.event_type, d.status, d.attempts, d.attempt_base, d.next_attempt_at,
  d.last_attempt_at, d.last_status_code, d.last_error, d.last_response, d.delivered_at, d.dead_at, d.created_at`;

function toDelivery(row: DeliveryRow, attempts: AttemptRow[]): WebhookDelivery {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    eventId: String(row.event_id),
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    attemptBase: row.attempt_base,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    lastResponse: row.last_response,
    deliveredAt: row.delivered_at,
    deadAt: row.dead_at,
    createdAt: row.created_at,
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      statusCode: a.status_code,
      error: a.error,
      responseBody: a.response_body,
      durationMs: a.duration_ms,
      at: a.created_at,
    })),
  };
}

export type RedeliveryOutcome = { kind: 'scheduled'; delivery: WebhookDelivery } | { kind: 'not_found' } | { kind: 'in_flight' };

@Injectable()
export class WebhookDeliveriesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Newest events first. */
  async list(
    organizationId: string,
    subscriptionId: string,
    filter: { status?: DeliveryStatus; eventId?: string },
    page: PageRequest,
  ): Promise<Page<WebhookDelivery>> {
    const rows: (DeliveryRow & { total: number })[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM webhook_deliveries d
        WHERE d.organization_id = $1 AND d.subscription_id = $2
          AND ($3::text IS NULL OR d.status = $3) AND ($4::bigint IS NULL OR d.event_id = $4::bigint)
        ORDER BY d.event_id DESC LIMIT $5 OFFSET $6`,
      [organizationId, subscriptionId, filter.status ?? null, filter.eventId ?? null, page.limit, page.offset],
    );
    const attempts = await this.attemptsOf(rows.map((r) => r.id));
    return {
      items: rows.map((r) => toDelivery(r, attempts.get(r.id) ?? [])),
      total: rows[0]?.total ?? 0,
      limit: page.limit,
      offset: page.offset,
    };
  }

  async find(organizationId: string, subscriptionId: string, deliveryId: string): Promise<WebhookDelivery | null> {
    const rows: DeliveryRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM webhook_deliveries d WHERE d.id = $1 AND d.subscription_id = $2 AND d.organization_id = $3`,
      [deliveryId, subscriptionId, organizationId],
    );
    if (!rows[0]) return null;
    return toDelivery(rows[0], (await this.attemptsOf([rows[0].id])).get(rows[0].id) ?? []);
  }

  /**
   * Schedules one more delivery now with a fresh retry budget (a dead-lettered event, or one the receiver lost).
   * A delivery being sent right now is left alone: its outcome is about to be recorded.
   */
  async redeliver(organizationId: string, subscriptionId: string, deliveryId: string): Promise<RedeliveryOutcome> {
    // The answer is the row as this statement left it: a dispatcher woken by the NOTIFY may claim it at once.
    const rows: DeliveryRow[] = await this.dataSource.query(
      `WITH moved AS (
         UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), attempt_base = d.attempts, dead_at = NULL,
                lease_expires_at = NULL, updated_at = now()
          WHERE d.id = $1 AND d.subscription_id = $2 AND d.organization_id = $3 AND d.status <> 'delivering'
          RETURNING ${COLUMNS})
       SELECT moved.*, pg_notify('baton_webhooks', '') FROM moved`,
      [deliveryId, subscriptionId, organizationId],
    );
    if (rows[0]) return { kind: 'scheduled', delivery: toDelivery(rows[0], (await this.attemptsOf([rows[0].id])).get(rows[0].id) ?? []) };
    return (await this.find(organizationId, subscriptionId, deliveryId)) ? { kind: 'in_flight' } : { kind: 'not_found' };
  }

  private async attemptsOf(ids: string[]): Promise<Map<string, AttemptRow[]>> {
    const byDelivery = new Map<string, AttemptRow[]>();
    if (ids.length === 0) return byDelivery;
    const rows: AttemptRow[] = await this.dataSource.query(
      `SELECT delivery_id, attempt, status_code, error, response_body, duration_ms, created_at
         FROM webhook_delivery_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt`,
      [ids],
    );
    for (const row of rows) {
      const list = byDelivery.get(row.delivery_id) ?? [];
      list.push(row);
      byDelivery.set(row.delivery_id, list);
    }
    return byDelivery;
  }
}
