import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { APP_CONFIG, type AppConfig } from '#config';
import { BatonMetrics } from '#observability';

/**
 * The separate metrics listener of BATON_METRICS_PORT: GET /metrics without a token, nothing else. It is how
 * worker-only processes (no HTTP API) are scraped, and lets the API port keep /metrics closed. Bind the port to a
 * network only Prometheus reaches.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | null = null;

  constructor(
    private readonly metrics: BatonMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The port actually bound (BATON_METRICS_PORT=0 picks a free one: tests). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.metricsPort === undefined) return;
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' || path !== '/metrics') {
        response.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ statusCode: 404, error: 'Not Found', message: 'Only GET /metrics is served here' }));
        return;
      }
      this.metrics.exposition().then(
        ({ contentType, body }) => response.writeHead(200, { 'Content-Type': contentType }).end(body),
        (error: unknown) => {
          this.logger.error(`metrics collection failed: ${String(error)}`);
          response.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ statusCode: 500, error: 'Internal Server Error', message: 'Metrics collection failed' }));
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.metricsPort, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics on http://0.0.0.0:${this.port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
