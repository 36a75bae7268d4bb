import 'reflect-metadata';
import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { text } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '#config';
import { Logger } from 'nestjs-pino';
import type { ObservabilityOptions } from '#observability';
import { runSeeds } from '../../../seeds/seed-runner.js';
import { AppModule } from './app.module.js';
import { BODY_LIMIT, JSON_TYPES, rejectDeepBodies, rejectUnsupportedMediaType, YAML_TYPES } from './common/body-limits.js';
import { createValidationPipe } from './common/validation.js';
import { setupSwagger } from './swagger.js';

/** Builds the configured (not yet listening) application: used by main.ts and by the e2e tests alike. */
export async function createApp(config: AppConfig, observability: ObservabilityOptions = {}): Promise<NestExpressApplication> {
  // Start-up lines are buffered until the pino logger of ObservabilityModule exists, then written through it.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, observability), { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  // DatabaseModule has migrated already (autoMigrate); seeds are idempotent, so every starting instance may run them.
  if (config.autoMigrate) await runSeeds(app);
  // A2A JSON-RPC reads its body as text: a malformed one must be a JSON-RPC parse error (-32700), not an HTTP 400.
  app.use('/a2a', text({ type: () => true, limit: BODY_LIMIT }));
  // Order matters: media type before reading, size while reading, depth before any DTO or definition code (body-limits.ts).
  app.use(rejectUnsupportedMediaType);
  app.useBodyParser('json', { type: JSON_TYPES, limit: BODY_LIMIT });
  app.useBodyParser('text', { type: YAML_TYPES, limit: BODY_LIMIT });
  app.use(rejectDeepBodies);
  app.useGlobalPipes(createValidationPipe());
  app.disable('x-powered-by');
  // A client must finish sending its request in bounded time (slow bodies would otherwise hold a socket and a parser).
  const server = app.getHttpServer() as Server;
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  setupSwagger(app);
  return app;
}
