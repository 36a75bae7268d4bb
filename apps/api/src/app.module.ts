import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ConfigModule, type AppConfig } from '#config';
import { ObservabilityModule, type ObservabilityOptions } from '#observability';
import { IdentityModule } from '#identity';
import { DatabaseModule } from '#persistence';
import { AuthController } from './auth/auth.controller.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { AuthGuard } from './common/auth.guard.js';
import { AllExceptionsFilter } from './common/domain-exception.filter.js';
import { RequestIdMiddleware } from './common/request-id.middleware.js';
import { HealthModule } from './health/health.module.js';
import { AuditModule } from './audit/audit.module.js';
import { EventsApiModule } from './events/events-api.module.js';
import { OrganizationsController } from './organizations/organizations.controller.js';
import { UsersController } from './users/users.controller.js';
import { RunsModule } from './runs/runs.module.js';
import { ApprovalsModule } from './approvals/approvals.module.js';
import { DefinitionsApiModule } from './definitions/definitions-api.module.js';
import { AgentsModule } from '#agents';
import { EventsModule } from '#events';
import { StreamsModule } from './streams/streams.module.js';
import { WebhooksApiModule } from './webhooks/webhooks-api.module.js';
import { LogContextGuard } from './metrics/log-context.guard.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { AgentsApiModule } from './agents/agents-api.module.js';
import { A2aModule } from './a2a/a2a.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DeliverablesModule } from './deliverables/deliverables.module.js';
import { ConversationsApiModule } from './conversations/conversations-api.module.js';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig, observability: ObservabilityOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), ObservabilityModule.forRoot(config, observability), DatabaseModule.forRoot(config), IdentityModule.forRoot(config), EventsModule, AgentsModule, RunsModule, ApprovalsModule, DefinitionsApiModule, StreamsModule, WebhooksApiModule, MetricsModule.forApi(), HealthModule, AuditModule, EventsApiModule, A2aModule, AgentsApiModule, DashboardModule, DeliverablesModule, ConversationsApiModule],
      controllers: [AuthController, UsersController, OrganizationsController],
      providers: [
        // In this order: the log context names the organization AuthGuard found.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: LogContextGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        LoginThrottle,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware).forRoutes('*path');
  }
}
