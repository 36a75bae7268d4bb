/**
 * One bootstrap for the API, the CLI and the tests: resolve the database (DATABASE_URL, or the embedded
 * server under BATON_DATA_DIR), then open a TypeORM DataSource with `synchronize` off and every migration
 * registered. Nothing here creates tables: migrations do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '#config';
import { MIGRATIONS } from '../../../../migrations/index.js';
import { ENTITIES } from '../entities/index.js';
import { isDatabaseUnavailable } from './database-errors.js';
import { ensureDatabase, startEmbeddedPostgres, withDatabase, type EmbeddedServer } from './embedded-postgres.js';

export const EMBEDDED_DATABASE_NAME = 'baton';

export interface DatabaseHandle {
  url: string;
  dataSource: DataSource;
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

/** Pool options beyond the size: how long opening one connection may take. */
export interface PoolOptions {
  connectTimeoutMs?: number;
}

export function createDataSource(url: string, poolSize = 10, options: PoolOptions = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'baton', connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 },
  });
}

export async function resolveDatabaseUrl(config: Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'>): Promise<{
  url: string;
  embedded?: EmbeddedServer;
}> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.pgPort });
  await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
  return { url: withDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME), embedded };
}

type OpenConfig = Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'> &
  Partial<Pick<AppConfig, 'dbPoolSize' | 'dbConnectTimeoutMs' | 'dbStartupRetryMs'>>;

/**
 * Connects, retrying an unreachable database (refused, starting up, too many connections) with capped exponential
 * backoff for up to `dbStartupRetryMs`: a process started before its database (compose, Kubernetes, a host reboot)
 * waits for it instead of exiting at once. Any other error (bad password, unknown database) fails at once.
 */
export async function initializeWithRetry(make: () => DataSource, retryMs: number, logger = new Logger('Database')): Promise<DataSource> {
  const deadline = Date.now() + retryMs;
  for (let attempt = 1; ; attempt++) {
    const dataSource = make();
    try {
      return await dataSource.initialize();
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      const delay = Math.min(250 * 2 ** (attempt - 1), 5000);
      if (!isDatabaseUnavailable(error) || Date.now() + delay > deadline) throw error;
      logger.warn(
        `database unreachable (${(error as Error).message}); retrying in ${delay} ms (attempt ${attempt}, giving up after ${retryMs} ms)`,
      );
      await sleep(delay);
    }
  }
}

export async function openDatabase(config: OpenConfig, poolSize?: number): Promise<DatabaseHandle> {
  const { url, embedded } = await resolveDatabaseUrl(config);
  const dataSource = await initializeWithRetry(
    () => createDataSource(url, poolSize ?? config.dbPoolSize, { connectTimeoutMs: config.dbConnectTimeoutMs }),
    config.dbStartupRetryMs ?? 0,
  );
  return {
    url,
    dataSource,
    embedded,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      if (embedded?.owned) await embedded.stop();
    },
  };
}

export async function pendingMigrations(dataSource: DataSource): Promise<boolean> {
  return dataSource.showMigrations();
}
