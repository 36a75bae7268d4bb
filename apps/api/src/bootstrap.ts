import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { text } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '#config';
import { AppLogger } from '#observability';
import { runSeeds } from '../../../seeds/seed-runner.js';
import { AppModule } from './app.module.js';
import { createValidationPipe } from './common/validation.js';
import { setupSwagger } from './swagger.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Builds the configured (not yet listening) application: used by main.ts and by the e2e tests alike. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: new AppLogger(config.logLevel),
    bodyParser: false,
  });
  // DatabaseModule has migrated already (autoMigrate); seeds are idempotent, so every starting instance may run them.
  if (config.autoMigrate) await runSeeds(app);
  // A2A JSON-RPC reads its body as text: a malformed one must be a JSON-RPC parse error (-32700), not an HTTP 400.
  app.use('/a2a', text({ type: () => true, limit: '1mb' }));
  app.useBodyParser('json', { limit: '1mb' });
  app.useBodyParser('text', { type: YAML_TYPES, limit: '1mb' });
  app.useGlobalPipes(createValidationPipe());
  app.disable('x-powered-by');
  setupSwagger(app);
  return app;
}
