/**
 * The engine's own connection pool: its hot path speaks SQL through `pg` directly (batched statements,
 * arrays as parameters), leaving TypeORM to the CRUD edges. Every engine transaction goes through `tx`,
 * which retries on deadlock and serialization failures (safe: a transaction either commits whole or not at all).
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '#config';
import { DATABASE_HANDLE, type DatabaseHandle } from '#persistence';

export type Queryable = Pick<pg.PoolClient, 'query'>;

const RETRYABLE = new Set(['40P01', '40001']);

@Injectable()
export class EngineDatabase implements OnApplicationShutdown {
  readonly pool: pg.Pool;

  constructor(@Inject(DATABASE_HANDLE) database: DatabaseHandle, @Inject(APP_CONFIG) config: AppConfig) {
    this.pool = new pg.Pool({ connectionString: database.url, max: Math.max(4, Math.min(20, Math.ceil(config.workerConcurrency / 10) + 4)), application_name: 'baton-engine' });
    this.pool.on('error', () => undefined); // idle client errors surface on the next query
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (attempt < 5 && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        throw error;
      } finally {
        client.release();
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
