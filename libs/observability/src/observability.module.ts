import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '#config';
import { configSecrets } from './logging/config-secrets.js';
import { BatonMetrics } from './metrics/baton-metrics.js';
import { pinoParams, type LoggingOptions } from './logging/pino-params.js';

export interface ObservabilityOptions {
  logging?: LoggingOptions;
}

/**
 * Logs (nestjs-pino), metrics and tracing for one process, imported once by the API's and the worker's root
 * module. Global, so any module may inject the metrics service without importing this module.
 */
@Module({})
export class ObservabilityModule {
  static forRoot(config: AppConfig, options: ObservabilityOptions = {}): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      imports: [LoggerModule.forRoot(pinoParams(config, configSecrets(config), options.logging))],
      providers: [BatonMetrics],
      exports: [LoggerModule, BatonMetrics],
    };
  }
}
