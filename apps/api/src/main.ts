import 'reflect-metadata';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '#config';
import { startTracing } from '#observability';
import { Logger as PinoLogger } from 'nestjs-pino';
import { createApp } from './bootstrap.js';
import { WorkerModule } from './worker.module.js';

const config = loadConfig();
// Before the application is built, so every span it starts has the SDK behind it (a no-op without OTEL_EXPORTER_OTLP_ENDPOINT).
const tracing = startTracing(config);
const logger = new Logger('Baton');

/**
 * SIGTERM/SIGINT: close the application (the worker stops claiming, drains in-flight steps for up to 30 s or
 * releases their leases, connections close), then exit 0. A second signal exits at once.
 */
function exitGracefully(app: INestApplicationContext): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    logger.log(`${signal} received: shutting down`);
    app
      .close()
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

if (config.role === 'worker') {
  // Workers serve no HTTP: they claim and run steps until told to stop.
  const context = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  context.useLogger(context.get(PinoLogger));
  await context.init();
  exitGracefully(context);
  logger.log('Baton worker running (BATON_ROLE=worker)');
} else {
  const app = await createApp(config);
  await app.listen(config.port);
  exitGracefully(app);
  logger.log(`Baton API on http://localhost:${config.port} (Swagger at /docs, role ${config.role})`);
}
