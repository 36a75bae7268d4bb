import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { Page, PageRequest } from '#core';

export interface WebhookSubscription {
  id: string;
  organizationId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  active: boolean;
  createdBy: string | null;
  createdAt: Date;
}

interface SubscriptionRow {
  id: string;
  organization_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  active: boolean;
  created_by: string | null;
  created_at: Date;
}

// Never the encrypted secret: only the dispatcher reads it (webhook-deliveries.repository.ts).
const COLUMNS = 'id, organization_id, url, description, event_types, active, created_by, created_at';

const toSubscription = (row: SubscriptionRow): WebhookSubscription => ({
  id: row.id,
  organizationId: row.organization_id,
  url: row.url,
  description: row.description,
  eventTypes: row.event_types,
  active: row.active,
  createdBy: row.created_by,
  createdAt: row.created_at,
});

export interface NewWebhookSubscription {
  url: string;
  description: string | null;
  eventTypes: string[];
  secretEncrypted: string;
  createdBy: string | null;
}

/**
 * Webhook subscriptions of the organization (run-scoped ones are A2A push notification configs, managed by the A2A
 * server: not listed here); every method takes the organization first, and another organization's id is not found. */
@Injectable()
export class WebhookSubscriptionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(
    organizationId: string,
    input: NewWebhookSubscription,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<WebhookSubscription> {
    const [row]: SubscriptionRow[] = await manager.query(
      `INSERT INTO webhook_subscriptions (organization_id, url, description, event_types, secret_encrypted, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [organizationId, input.url, input.description, input.eventTypes, input.secretEncrypted, input.createdBy],
    );
    return toSubscription(row);
  }

  async find(organizationId: string, id: string): Promise<WebhookSubscription | null> {
    const rows: SubscriptionRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM webhook_subscriptions WHERE id = $1 AND organization_id = $2 AND run_id IS NULL`,
      [id, organizationId],
    );
    return rows[0] ? toSubscription(rows[0]) : null;
  }

  async list(organizationId: string, page: PageRequest): Promise<Page<WebhookSubscription>> {
    const rows: (SubscriptionRow & { total: number })[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM webhook_subscriptions
        WHERE organization_id = $1 AND run_id IS NULL ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
      [organizationId, page.limit, page.offset],
    );
    const total = rows[0]?.total ?? (page.offset > 0 ? await this.count(organizationId) : 0);
    return { items: rows.map(toSubscription), total, limit: page.limit, offset: page.offset };
  }

  /** Deletes the subscription and, by cascade, its deliveries (pending ones are never sent). */
  async delete(organizationId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    const rows: { id: string }[] = await manager.query(
      `WITH gone AS (DELETE FROM webhook_subscriptions WHERE id = $1 AND organization_id = $2 AND run_id IS NULL RETURNING id) SELECT id FROM gone`,
      [id, organizationId],
    );
    return rows.length > 0;
  }

  private async count(organizationId: string): Promise<number> {
    const [row]: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM webhook_subscriptions WHERE organization_id = $1 AND run_id IS NULL`,
      [organizationId],
    );
    return row.n;
  }
}
