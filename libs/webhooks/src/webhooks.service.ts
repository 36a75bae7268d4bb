/**
 * Managing webhooks, always within the caller's organization (another organization's ids are not found).
 * Creation and deletion are audited in the same transaction as the change.
 */
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, type Page, type PageRequest } from '#core';
import { EVENT_TYPES } from '#events';
import { RequestContext } from '#observability';
import { AuditLogRepository, type ActorType } from '#persistence';
import { WebhookDeliveriesRepository, type DeliveryStatus, type WebhookDelivery } from './webhook-deliveries.repository.js';
import { generateWebhookSecret, WebhookSecretCipher } from './webhook-secret-cipher.js';
import { WebhookSubscriptionsRepository, type WebhookSubscription } from './webhook-subscriptions.repository.js';
import { validateWebhookUrl } from './webhook-url.js';

export interface WebhookActor {
  type: ActorType;
  id: string | null;
  userId: string | null;
}

export interface CreateWebhookCommand {
  url: string;
  eventTypes?: string[];
  description?: string;
}

@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly subscriptions: WebhookSubscriptionsRepository,
    private readonly deliveryRepository: WebhookDeliveriesRepository,
    private readonly cipher: WebhookSecretCipher,
    private readonly audit: AuditLogRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Creates a subscription; the plain secret is in this answer and nowhere else, ever. */
  async create(
    organizationId: string,
    command: CreateWebhookCommand,
    actor: WebhookActor,
  ): Promise<{ subscription: WebhookSubscription; secret: string }> {
    const url = validateWebhookUrl(command.url, this.config.webhookAllowPrivateNetworks);
    const eventTypes = [...new Set(command.eventTypes ?? [])];
    const unknown = eventTypes.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
    if (unknown.length > 0)
      throw DomainError.validation(
        `Unknown event types: ${unknown.join(', ')}`,
        unknown.map((t) => ({ path: `$.eventTypes[${eventTypes.indexOf(t)}]`, message: `unknown event type "${t}"` })),
      );
    const secret = generateWebhookSecret();
    const subscription = await this.dataSource.transaction(async (manager) => {
      const created = await this.subscriptions.create(
        organizationId,
        {
          url,
          description: command.description ?? null,
          eventTypes,
          secretEncrypted: this.cipher.encrypt(secret),
          createdBy: actor.userId,
        },
        manager,
      );
      await this.audit.append(organizationId, this.entry(actor, 'webhook.created', created.id, { url, eventTypes }), manager);
      return created;
    });
    return { subscription, secret };
  }

  list(organizationId: string, page: PageRequest): Promise<Page<WebhookSubscription>> {
    return this.subscriptions.list(organizationId, page);
  }

  async get(organizationId: string, id: string): Promise<WebhookSubscription> {
    const subscription = await this.subscriptions.find(organizationId, id);
    if (!subscription) throw DomainError.notFound('Webhook', id);
    return subscription;
  }

  async delete(organizationId: string, id: string, actor: WebhookActor): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.subscriptions.delete(organizationId, id, manager))) throw DomainError.notFound('Webhook', id);
      await this.audit.append(organizationId, this.entry(actor, 'webhook.deleted', id, {}), manager);
    });
  }

  async deliveries(
    organizationId: string,
    id: string,
    filter: { status?: DeliveryStatus; eventId?: string },
    page: PageRequest,
  ): Promise<Page<WebhookDelivery>> {
    await this.get(organizationId, id);
    return this.deliveryRepository.list(organizationId, id, filter, page);
  }

  async redeliver(organizationId: string, id: string, deliveryId: string, actor: WebhookActor): Promise<WebhookDelivery> {
    await this.get(organizationId, id);
    const outcome = await this.deliveryRepository.redeliver(organizationId, id, deliveryId);
    if (outcome.kind === 'not_found') throw DomainError.notFound('Delivery', deliveryId);
    if (outcome.kind === 'in_flight')
      throw DomainError.invalidState(`Delivery ${deliveryId} is being sent right now; look again in a moment`);
    await this.audit.append(
      organizationId,
      this.entry(actor, 'webhook.redelivered', id, { deliveryId, eventId: outcome.delivery.eventId }),
    );
    return outcome.delivery;
  }

  private entry(actor: WebhookActor, action: string, targetId: string, details: Record<string, string | string[]>) {
    return {
      actorType: actor.type,
      actorId: actor.id,
      action,
      targetType: 'webhook',
      targetId,
      details,
      requestId: RequestContext.requestId() ?? null,
    };
  }
}
