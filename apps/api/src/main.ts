import 'reflect-metadata';
import type { Server } from 'node:http';
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
 * SIGTERM/SIGINT shut down in order, each step logged: (1) the HTTP server stops accepting connections (a load
 * balancer sees refused connections and /ready is gone; requests in flight finish), (2) the application closes:
 * the worker stops claiming, in-flight steps finish for up to BATON_SHUTDOWN_GRACE_MS or are aborted and released,
 * results are flushed, streams and webhooks stop, then the pools close (and the embedded PostgreSQL, last), then
 * exit 0. Every retry loop is bounded by a hard deadline (grace + 15 s: exit 1). A second signal exits at once.
 */
function exitGracefully(app: INestApplicationContext, server?: Server): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    logger.log(`${signal} received: shutting down`);
    const hardDeadlineMs = config.shutdownGraceMs + 15_000;
    setTimeout(() => {
      logger.error(`shutdown did not finish in ${hardDeadlineMs} ms: exiting`);
      process.exit(1);
    }, hardDeadlineMs).unref();
    const shutdown = async () => {
      if (server) {
        // close() stops listening at once; its callback waits for open connections, which app.close() ends (SSE, WebSocket).
        server.close();
        server.closeIdleConnections();
        logger.log('HTTP server stopped accepting connections');
      }
      await app.close();
      await tracing?.shutdown();
      logger.log('shutdown complete');
    };
    shutdown().then(
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
  exitGracefully(app, app.getHttpServer() as Server);
  logger.log(`Baton API on http://localhost:${config.port} (Swagger at /docs, role ${config.role})`);
}
