import { createDataSource } from '#persistence';
import { createScratchDatabase, startTestCluster, TEST_ADMIN_URL_ENV, TEST_DATABASE_ENV, type TestCluster } from './test-database.js';

declare global {
  var __batonTestCluster: TestCluster | undefined;
}

/** Starts the cluster once per `jest` run, creates and migrates the run's database; workers inherit the env. */
export default async function globalSetup(): Promise<void> {
  const cluster = await startTestCluster();
  globalThis.__batonTestCluster = cluster;
  const url = await createScratchDatabase(cluster.adminUrl, `run_${process.pid}`);
  const dataSource = createDataSource(url, 2);
  await dataSource.initialize();
  await dataSource.runMigrations();
  await dataSource.destroy();
  process.env[TEST_DATABASE_ENV] = url;
  process.env[TEST_ADMIN_URL_ENV] = cluster.adminUrl;
}
