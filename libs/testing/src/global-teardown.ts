import { databaseName, dropDatabase } from '#persistence';
import { TEST_ADMIN_URL_ENV, TEST_DATABASE_ENV } from './test-database.js';

export default async function globalTeardown(): Promise<void> {
  const url = process.env[TEST_DATABASE_ENV];
  const admin = process.env[TEST_ADMIN_URL_ENV];
  if (url && admin && process.env.DATABASE_URL) await dropDatabase(admin, databaseName(url));
  await globalThis.__batonTestCluster?.stop();
}
