import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ConfigModule, type AppConfig } from '#config';
import { IdentityModule } from '#identity';
import { DatabaseModule } from '#persistence';
import { AuthController } from './auth/auth.controller.js';
import { AuthGuard } from './common/auth.guard.js';
import { AllExceptionsFilter } from './common/domain-exception.filter.js';
import { RequestIdMiddleware } from './common/request-id.middleware.js';
import { HealthController } from './health/health.controller.js';
import { RunsModule } from './runs/runs.module.js';
import { ApprovalsModule } from './approvals/approvals.module.js';
import { DefinitionsApiModule } from './definitions/definitions-api.module.js';
import { AgentsModule } from '#agents';
import { EventsModule } from '#events';
import { StreamsModule } from './streams/streams.module.js';
import { WebhooksApiModule } from './webhooks/webhooks-api.module.js';
import { A2aModule } from './a2a/a2a.module.js';
import { DeliverablesModule } from './deliverables/deliverables.module.js';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(config), IdentityModule.forRoot(config), EventsModule, AgentsModule, RunsModule, ApprovalsModule, DefinitionsApiModule, StreamsModule, WebhooksApiModule, A2aModule, DeliverablesModule],
      controllers: [HealthController, AuthController],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*path');
  }
}
