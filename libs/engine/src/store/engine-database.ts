/**
 * The engine's own connection pool: its hot path speaks SQL through `pg` directly (batched statements,
 * arrays as parameters), leaving TypeORM to the CRUD edges. Every engine transaction goes through `tx`,
 * which retries on deadlock and serialization failures (safe: a transaction either commits whole or not at all).
 *
 * NOTIFY is sent after COMMIT, never inside the transaction: PostgreSQL serialises the commits of all
 * transactions that notify (a global lock held across the commit's WAL flush), which would cap the engine at
 * one commit per fsync. Notifications are wake-up hints (every listener also polls), so sending them just after
 * the commit loses nothing but a few milliseconds if the process dies in between. Bursts are coalesced.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '#config';
import { DATABASE_HANDLE, type DatabaseHandle } from '#persistence';

export type Queryable = Pick<pg.PoolClient, 'query'>;

const RETRYABLE = new Set(['40P01', '40001']);

const requested = new WeakMap<object, Set<string>>();

/** Registers a NOTIFY to send once the transaction of `client` commits (dropped if it rolls back). */
export function notifyAfterCommit(client: object, channel: string, payload = ''): void {
  let set = requested.get(client);
  if (!set) requested.set(client, (set = new Set()));
  set.add(`${channel}\u0000${payload}`);
}

@Injectable()
export class EngineDatabase implements OnApplicationShutdown {
  readonly pool: pg.Pool;

  /**
   * The worker's own connections (claims, result lanes, heartbeats, reaping): a burst of API requests on the
   * general pool can never starve the worker of the connections it needs to finish work.
   */
  readonly workerPool: pg.Pool;

  constructor(@Inject(DATABASE_HANDLE) database: DatabaseHandle, @Inject(APP_CONFIG) config: AppConfig) {
    void config;
    this.pool = new pg.Pool({ connectionString: database.url, max: 10, application_name: 'baton-engine' });
    this.workerPool = new pg.Pool({ connectionString: database.url, max: 8, application_name: 'baton-worker' });
    for (const pool of [this.pool, this.workerPool]) pool.on('error', () => undefined); // idle client errors surface on the next query
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>, pool: pg.Pool = this.pool): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        const notes = requested.get(client);
        requested.delete(client);
        for (const note of notes ?? []) this.send(note);
        return result;
      } catch (error) {
        requested.delete(client);
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < 5 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.release();
      }
    }
  }

  private readonly sending = new Map<string, boolean>();

  /** One NOTIFY per key in flight; keys asked for meanwhile are sent once more after it (coalescing bursts). */
  private send(note: string): void {
    if (this.sending.has(note)) {
      this.sending.set(note, true);
      return;
    }
    this.sending.set(note, false);
    const [channel, payload] = note.split('\u0000');
    this.pool
      .query('SELECT pg_notify($1, $2)', [channel, payload])
      .catch(() => undefined)
      .finally(() => {
        const again = this.sending.get(note);
        this.sending.delete(note);
        if (again) this.send(note);
      });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.workerPool.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
