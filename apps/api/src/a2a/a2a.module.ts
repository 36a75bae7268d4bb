import { Module } from '@nestjs/common';
import { EngineModule } from '#engine';
import { EventStreamsModule } from '#events';
import { WebhooksModule } from '#webhooks';
import { ConversationsApiModule } from '../conversations/conversations-api.module.js';
import { A2aEndpoint } from './a2a-endpoint.service.js';
import { A2aTaskRepository } from './a2a-task.repository.js';
import { A2aController } from './a2a.controller.js';

/** Orchestration definitions served as A2A agents (docs/a2a.md). */
@Module({
  imports: [EngineModule, EventStreamsModule, WebhooksModule, ConversationsApiModule],
  controllers: [A2aController],
  providers: [A2aEndpoint, A2aTaskRepository],
})
export class A2aModule {}
