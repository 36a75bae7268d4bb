/**
 * One LISTEN connection per process, shared by every channel (work wake-ups, cancellations, new events).
 * Reconnects with backoff; after a reconnect every handler is called once, since notifications sent while
 * disconnected are lost (callers treat a wake-up as "go and look", never as the data itself).
 */
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { faultPoint } from '#core';
import { DatabaseServer } from '#persistence';

type Handler = (payload: string) => void;

@Injectable()
export class PgListener implements OnApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly database: DatabaseServer) {}

  async listen(channel: string, handler: Handler): Promise<() => void> {
    if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel ${channel}`);
    let set = this.handlers.get(channel);
    const isNew = !set;
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    await this.ensureConnected();
    if (isNew && this.client) await this.client.query(`LISTEN ${channel}`);
    return () => set.delete(handler);
  }

  /**
   * Calls this process's handlers of `channel` now, as a NOTIFY from this process would later: a process that sends
   * notifications at most every so often (see EngineDatabase) wakes its own listeners at once instead of through the
   * database.
   */
  deliverLocally(channel: string, payload = ''): void {
    for (const handler of this.handlers.get(channel) ?? []) handler(payload);
  }

  private ensureConnected(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const fault = faultPoint('events.listener.connect');
    if (fault) await fault;
    const client = new pg.Client({ connectionString: this.database.url, application_name: 'baton-listener' });
    client.on('notification', (message) => {
      for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    await client.connect();
    for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
    this.client = client;
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    this.logger.warn(`LISTEN connection lost (${error.message}); reconnecting`);
    const retry = (delay: number) =>
      setTimeout(() => {
        if (this.closed) return;
        this.ensureConnected()
          .then(() => {
            for (const set of this.handlers.values()) for (const handler of set) handler('');
          })
          .catch(() => retry(Math.min(delay * 2, 5000)));
      }, delay).unref();
    retry(100);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
