/**
 * One bootstrap for the API, the CLI and the tests: resolve the database (DATABASE_URL, or the embedded
 * server under BATON_DATA_DIR), then open a TypeORM DataSource with `synchronize` off and every migration
 * registered. Nothing here creates tables: migrations do. Inside Nest, DatabaseModule hands these pieces to
 * TypeOrmModule; outside it (CLI migrations, tests, benches) `openDatabase` and `createDataSource` open one directly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions } from 'typeorm';
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

export function dataSourceOptions(url: string, poolSize = 10, options: PoolOptions = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'baton', connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 },
  };
}

export function createDataSource(url: string, poolSize = 10, options: PoolOptions = {}): DataSource {
  return new DataSource(dataSourceOptions(url, poolSize, options));
}

/**
 * Where this process's database is: its URL, and the embedded server when `DATABASE_URL` is unset. The engine's and
 * the listener's own `pg` connections use the URL. Stopping stops the embedded server only if this process started
 * it; it comes last at shutdown, after every pool on it has closed (DatabaseModule).
 */
export class DatabaseServer {
  constructor(
    readonly url: string,
    readonly embedded?: EmbeddedServer,
  ) {}

  static async resolve(config: Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'>): Promise<DatabaseServer> {
    if (config.databaseUrl) return new DatabaseServer(config.databaseUrl);
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.pgPort });
    await ensureDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME);
    return new DatabaseServer(withDatabase(embedded.adminUrl, EMBEDDED_DATABASE_NAME), embedded);
  }

  async stop(): Promise<void> {
    if (this.embedded?.owned) await this.embedded.stop();
  }
}

export type OpenConfig = Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'> &
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

/** A DataSource outside Nest (CLI commands that need no services, tests): the same bootstrap as DatabaseModule's. */
export async function openDatabase(config: OpenConfig, poolSize?: number): Promise<DatabaseHandle> {
  const server = await DatabaseServer.resolve(config);
  const options = dataSourceOptions(server.url, poolSize ?? config.dbPoolSize, { connectTimeoutMs: config.dbConnectTimeoutMs });
  const dataSource = await initializeWithRetry(() => new DataSource(options), config.dbStartupRetryMs ?? 0);
  return {
    url: server.url,
    dataSource,
    embedded: server.embedded,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await server.stop();
    },
  };
}

export async function pendingMigrations(dataSource: DataSource): Promise<boolean> {
  return dataSource.showMigrations();
}
