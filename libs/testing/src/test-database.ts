/**
 * The throw-away database of a test run. With DATABASE_URL set, a fresh database is created on that server
 * (its name must say "test"); unset, a throw-away embedded cluster is started in a temp directory.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseName, dropDatabase, ensureDatabase, startEmbeddedPostgres, withDatabase, type EmbeddedServer } from '#persistence';

export const TEST_DATABASE_ENV = 'BATON_TEST_DATABASE_URL';
export const TEST_ADMIN_URL_ENV = 'BATON_TEST_ADMIN_URL';

export function assertTestDatabase(url: string): void {
  const name = databaseName(url);
  if (!/test/i.test(name)) {
    throw new Error(`Refusing to run tests against database "${name}": its name must contain "test".`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface TestCluster {
  adminUrl: string;
  stop(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const external = process.env.DATABASE_URL;
  if (external) {
    assertTestDatabase(external);
    return { adminUrl: external, stop: async () => undefined };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-test-'));
  chmodSync(dataDir, 0o755); // the postgres user (when running as root) must reach its data directory
  const server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
  return {
    adminUrl: server.adminUrl,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new empty database named `<base>_<suffix>` on the cluster; the name always says test. */
export async function createScratchDatabase(adminUrl: string, suffix: string): Promise<string> {
  const base = process.env.DATABASE_URL ? databaseName(adminUrl) : 'baton_test';
  const name = `${base}_${suffix}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 60);
  await dropDatabase(adminUrl, name);
  await ensureDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  assertTestDatabase(url);
  return url;
}
