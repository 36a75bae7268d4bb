import type { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, TEST_ADMIN_URL_ENV } from './test-database.js';

export interface ScratchDatabase {
  url: string;
  dataSource: DataSource;
  /** Closes the data source and drops the database. */
  drop(): Promise<void>;
}

/**
 * A migrated database of its own for one suite, on the test cluster: for suites whose engine or dispatchers must
 * see only their own rows (the shared test database is worked on by every other suite's workers at the same time).
 */
export async function openScratchDatabase(label: string, poolSize = 5): Promise<ScratchDatabase> {
  const admin = process.env[TEST_ADMIN_URL_ENV];
  if (!admin) throw new Error(`${TEST_ADMIN_URL_ENV} is not set: run tests through jest (globalSetup sets it)`);
  const url = await createScratchDatabase(admin, `${label}_${process.pid}`);
  const dataSource = createDataSource(url, poolSize);
  await dataSource.initialize();
  await migrateDatabase(dataSource);
  return {
    url,
    dataSource,
    async drop() {
      await dataSource.destroy().catch(() => undefined);
      await dropDatabase(admin, new URL(url).pathname.slice(1));
    },
  };
}
