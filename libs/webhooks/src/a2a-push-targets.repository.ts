/**
 * A2A push notification configs, stored as webhook subscriptions scoped to one run (the task): the outbox trigger
 * queues their deliveries in the event's own transaction, the dispatcher sends them (at least once, retried, dead
 * letters), so nothing is lost when the client is away. The receiver's credentials and token are encrypted like a
 * webhook's signing secret; the token is the signing secret, so the receiver can verify X-Orchestration-Signature.
 * Every query takes the organization first.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { PUSHED_EVENT_TYPES } from '#a2a';
import { WEBHOOKS_CHANNEL } from '#events';
import { generateWebhookSecret, WebhookSecretCipher } from './webhook-secret-cipher.js';

export interface A2aPushConfig {
  /** The config id (the client's, or generated). */
  id: string;
  taskId: string;
  url: string;
  token: string;
  authentication: { scheme: string; credentials: string } | null;
}

/** What the dispatcher needs beside the subscription: the task's context and how to authenticate. */
export interface A2aPushTarget {
  configId: string;
  contextId: string;
  hasToken: boolean;
}

interface Row {
  url: string;
  secret_encrypted: string;
  a2a_config: A2aPushTarget;
  a2a_auth_encrypted: string | null;
  run_id: string;
}

@Injectable()
export class A2aPushTargetsRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cipher: WebhookSecretCipher,
  ) {}

  /**
   * Creates or replaces (same task, same config id) a push target. With `backfill` (a config sent with the message
   * that started the task) the events the task already logged are queued too: the run may have moved, or finished,
   * before the target existed. Under the run's row lock, which every event append holds until it commits, so no event
   * falls between the backfill and the trigger.
   */
  async upsert(
    organizationId: string,
    config: A2aPushConfig,
    contextId: string,
    createdBy: string | null,
    backfill = false,
  ): Promise<void> {
    const target: A2aPushTarget = { configId: config.id, contextId, hasToken: config.token !== '' };
    const secret = this.cipher.encrypt(config.token || generateWebhookSecret());
    const auth = config.authentication ? this.cipher.encrypt(JSON.stringify(config.authentication)) : null;
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT 1 FROM orchestration_runs WHERE id = $1 AND organization_id = $2 FOR UPDATE`, [
        config.taskId,
        organizationId,
      ]);
      await manager.query(`DELETE FROM webhook_subscriptions WHERE organization_id = $1 AND run_id = $2 AND a2a_config->>'configId' = $3`, [
        organizationId,
        config.taskId,
        config.id,
      ]);
      const [subscription]: { id: string }[] = await manager.query(
        `INSERT INTO webhook_subscriptions (organization_id, url, description, event_types, secret_encrypted, created_by, run_id, a2a_config, a2a_auth_encrypted)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
        [
          organizationId,
          config.url,
          `A2A push notifications of task ${config.taskId}`,
          PUSHED_EVENT_TYPES,
          secret,
          createdBy,
          config.taskId,
          JSON.stringify(target),
          auth,
        ],
      );
      if (backfill) {
        await manager.query(
          `INSERT INTO webhook_deliveries (organization_id, subscription_id, event_id, event_type)
           SELECT e.organization_id, $1, e.id, e.type FROM orchestration_events e WHERE e.run_id = $2 AND e.type = ANY ($3)
           ON CONFLICT ON CONSTRAINT webhook_deliveries_subscription_event_uq DO NOTHING`,
          [subscription.id, config.taskId, PUSHED_EVENT_TYPES],
        );
        await manager.query(`SELECT pg_notify($1, '')`, [WEBHOOKS_CHANNEL]);
      }
    });
  }

  async list(organizationId: string, taskId: string): Promise<A2aPushConfig[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT url, secret_encrypted, a2a_config, a2a_auth_encrypted, run_id FROM webhook_subscriptions
        WHERE organization_id = $1 AND run_id = $2 ORDER BY created_at, id`,
      [organizationId, taskId],
    );
    return rows.map((r) => this.configOf(r));
  }

  async find(organizationId: string, taskId: string, configId: string): Promise<A2aPushConfig | null> {
    return (await this.list(organizationId, taskId)).find((c) => c.id === configId) ?? null;
  }

  async delete(organizationId: string, taskId: string, configId: string): Promise<boolean> {
    const rows: { id: string }[] = await this.dataSource.query(
      `DELETE FROM webhook_subscriptions WHERE organization_id = $1 AND run_id = $2 AND a2a_config->>'configId' = $3 RETURNING id`,
      [organizationId, taskId, configId],
    );
    return rows.length > 0;
  }

  /** The `Authorization` header value of a push target, if it has credentials. */
  authorization(authEncrypted: string | null): string | null {
    if (!authEncrypted) return null;
    const auth = JSON.parse(this.cipher.decrypt(authEncrypted)) as { scheme: string; credentials: string };
    return `${auth.scheme} ${auth.credentials}`;
  }

  private configOf(row: Row): A2aPushConfig {
    return {
      id: row.a2a_config.configId,
      taskId: row.run_id,
      url: row.url,
      token: row.a2a_config.hasToken ? this.cipher.decrypt(row.secret_encrypted) : '',
      authentication: row.a2a_auth_encrypted
        ? (JSON.parse(this.cipher.decrypt(row.a2a_auth_encrypted)) as { scheme: string; credentials: string })
        : null,
    };
  }
}
