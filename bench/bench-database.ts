/**
 * A throw-away database for benchmarks: a fresh embedded PostgreSQL in a temp dir with default durability
 * (fsync and synchronous_commit on), or a new database on DATABASE_URL's server when set.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { createDataSource, dropDatabase, ensureDatabase, migrateDatabase, startEmbeddedPostgres, withDatabase } from '#persistence';

export interface BenchDatabase {
  url: string;
  dataSource: DataSource;
  organizationId: string;
  close(): Promise<void>;
}

export async function openBenchDatabase(name: string): Promise<BenchDatabase> {
  const external = process.env.DATABASE_URL;
  let adminUrl: string;
  let stop = async () => undefined;
  if (external) {
    adminUrl = external;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    chmodSync(dir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: dir, port: 56000 + Math.floor(Math.random() * 2000), persistent: false });
    adminUrl = server.adminUrl;
    stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const database = `baton_bench_${name}_${process.pid}`;
  await dropDatabase(adminUrl, database);
  await ensureDatabase(adminUrl, database);
  const url = withDatabase(adminUrl, database);
  const dataSource = createDataSource(url, 4);
  await dataSource.initialize();
  await migrateDatabase(dataSource);
  const [org] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('bench', 'bench') RETURNING id`);
  return {
    url,
    dataSource,
    organizationId: org.id,
    async close() {
      await dataSource.destroy();
      if (external) await dropDatabase(adminUrl, database);
      await stop();
    },
  };
}

export async function insertBenchDefinition(dataSource: DataSource, organizationId: string, spec: DefinitionSpec): Promise<void> {
  await dataSource.query(`INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec) VALUES ($1, $2, 1, $3, $4)`, [
    organizationId,
    spec.slug,
    spec.name,
    JSON.stringify(spec),
  ]);
}

export async function machineInfo(dataSource: DataSource): Promise<string> {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown cpu';
  const [{ server_version }] = await dataSource.query('SHOW server_version');
  const [{ synchronous_commit }] = await dataSource.query('SHOW synchronous_commit');
  const [{ fsync }] = await dataSource.query('SHOW fsync');
  return `${cpu}, ${cpus().length} cores, node ${process.version}, PostgreSQL ${server_version} (fsync=${fsync}, synchronous_commit=${synchronous_commit})`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
