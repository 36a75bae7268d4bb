import { Module, type DynamicModule } from '@nestjs/common';
import { AgentsModule } from '#agents';
import { ConfigModule, type AppConfig } from '#config';
import { ObservabilityModule } from '#observability';
import { EngineModule } from '#engine';
import { EventsModule } from '#events';
import { DatabaseModule } from '#persistence';
import { WebhooksModule } from '#webhooks';
import { MetricsModule } from './metrics/metrics.module.js';
import { EventRetentionModule } from './events/events-api.module.js';

/** What a BATON_ROLE=worker process runs: the engine and its dependencies, no HTTP. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: WorkerModule, imports: [ConfigModule.forRoot(config), ObservabilityModule.forRoot(config), DatabaseModule.forRoot(config), EventsModule, AgentsModule, EngineModule, WebhooksModule, MetricsModule.forWorker(), EventRetentionModule] };
  }
}
