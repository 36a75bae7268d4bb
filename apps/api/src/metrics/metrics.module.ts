import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { EventTailProbe } from './event-tail-probe.js';
import { HttpMetricsMiddleware } from './http-metrics.middleware.js';
import { HttpTracingMiddleware } from './http-tracing.middleware.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsListener } from './metrics-listener.js';
import { OperationalGauges } from './operational-gauges.js';
import { OperationalGaugesRepository } from '#persistence';

const PROVIDERS = [OperationalGaugesRepository, EventTailProbe, OperationalGauges, MetricsListener];

/**
 * Metrics of one process: the scrape-time gauges, the BATON_METRICS_PORT listener, and (API roles) GET /metrics,
 * the HTTP request metrics and the HTTP server spans. The metrics themselves live in BatonMetrics (ObservabilityModule, global).
 */
@Module({})
export class MetricsModule implements NestModule {
  /** API roles: everything, with the /metrics route and HTTP request metrics. */
  static forApi(): DynamicModule {
    return { module: MetricsModule, global: true, controllers: [MetricsController], providers: [...PROVIDERS, HttpMetricsMiddleware, HttpTracingMiddleware], exports: [OperationalGaugesRepository, EventTailProbe] };
  }

  /** Worker-only processes: gauges and the separate listener, no routes. */
  static forWorker(): DynamicModule {
    return { module: MetricsModule, global: true, providers: PROVIDERS, exports: [OperationalGaugesRepository, EventTailProbe] };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpTracingMiddleware, HttpMetricsMiddleware).forRoutes('*path');
  }
}
