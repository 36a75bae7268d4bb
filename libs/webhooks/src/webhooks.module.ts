import { Module } from '@nestjs/common';
import { A2aPushTargetsRepository } from './a2a-push-targets.repository.js';
import { DeliveryOutboxRepository } from './delivery-outbox.repository.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookDispatcher } from './webhook-dispatcher.js';
import { WebhookSecretCipher } from './webhook-secret-cipher.js';
import { WebhookSubscriptionsRepository } from './webhook-subscriptions.repository.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * Webhook subscriptions, the outbox and its dispatcher (which runs only when BATON_ROLE is all or worker).
 * Needs the global DatabaseModule, ConfigModule and EventsModule. Imported by the API and by worker processes.
 */
@Module({
  providers: [
    WebhookSecretCipher,
    WebhookSubscriptionsRepository,
    WebhookDeliveriesRepository,
    DeliveryOutboxRepository,
    WebhooksService,
    WebhookDispatcher,
    A2aPushTargetsRepository,
  ],
  exports: [WebhooksService, WebhookDispatcher, A2aPushTargetsRepository],
})
export class WebhooksModule {}
