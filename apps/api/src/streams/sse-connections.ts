import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { APP_CONFIG, type AppConfig } from '#config';
import { SseConnection } from './sse-connection.js';

/**
 * The open SSE responses of this process. On shutdown they are ended before the HTTP server closes (an open
 * stream would otherwise keep `server.close()` waiting forever); clients reconnect to another instance.
 */
@Injectable()
export class SseConnections implements BeforeApplicationShutdown {
  private readonly open = new Set<SseConnection>();
  /** Clients disconnected for falling too far behind, since start (metrics, tests). */
  dropped = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  create(response: ServerResponse): SseConnection {
    const connection = new SseConnection(response, { maxQueue: this.config.sseMaxQueue, heartbeatMs: this.config.sseHeartbeatMs });
    this.open.add(connection);
    connection.onClose((reason) => {
      this.open.delete(connection);
      if (reason === 'overflow') this.dropped++;
    });
    return connection;
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream (clients reconnect with Last-Event-ID, to this instance or another). */
  closeAll(): void {
    for (const connection of [...this.open]) connection.close('shutdown');
  }

  beforeApplicationShutdown(): void {
    this.closeAll();
  }
}
