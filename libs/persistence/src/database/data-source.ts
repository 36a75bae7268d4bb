/**
 * One bootstrap for the API, the CLI and the tests: resolve the database (DATABASE_URL, or the embedded
 * server under BATON_DATA_DIR), then open a TypeORM DataSource with `synchronize` off and every migration
 * registered. Nothing here creates tables: migrations do.
 */
import { DataSource } from 'typeorm';
import type { AppConfig } from '#config';
import { MIGRATIONS } from '../../../../migrations/index.js';
import { ENTITIES } from '../entities/index.js';
import { ensureDatabase, startEmbeddedPostgres, withDatabase, type EmbeddedServer } from './embedded-postgres.js';

export const EMBEDDED_DATABASE_NAME = 'baton';

export interface DatabaseHandle {
  url: string;
  dataSource: DataSource;
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

export function createDataSource(url: string, poolSize = 20): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, application_name: 'baton' },
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

export async function openDatabase(
  config: Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'>,
  poolSize?: number,
): Promise<DatabaseHandle> {
  const { url, embedded } = await resolveDatabaseUrl(config);
  const dataSource = createDataSource(url, poolSize);
  await dataSource.initialize();
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
