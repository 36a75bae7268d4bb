/**
 * A throw-away database for benchmarks: a fresh embedded PostgreSQL in a temp dir with default durability
 * (fsync and synchronous_commit on), or a new database on DATABASE_URL's server when set.
 * BENCH_PROFILE=1 loads pg_stat_statements into the embedded server (and times I/O) for bench/pg-profile.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { createDataSource, dropDatabase, ensureDatabase, migrateDatabase, startEmbeddedPostgres, withDatabase } from '#persistence';

export interface BenchDatabase {
  url: string;
  dataSource: DataSource;
  organizationId: string;
  /** The embedded server's data directory (null on DATABASE_URL's server): its postmaster.pid names the server. */
  serverDir: string | null;
  close(): Promise<void>;
}

/** BENCH_PROFILE=1: statement statistics and I/O timing on in the bench's own server (see pg-profile.ts). */
export const PROFILING = process.env.BENCH_PROFILE === '1';
const PROFILE_SETTINGS = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'all',
  'pg_stat_statements.track_planning': 'on',
  track_io_timing: 'on',
  track_wal_io_timing: 'on',
};

export async function openBenchDatabase(name: string): Promise<BenchDatabase> {
  const external = process.env.DATABASE_URL;
  let adminUrl: string;
  let stop = async () => undefined;
  let serverDir: string | null = null;
  if (external) {
    adminUrl = external;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    chmodSync(dir, 0o755);
    serverDir = join(dir, 'pg');
    const port = 56000 + Math.floor(Math.random() * 2000);
    const server = await startEmbeddedPostgres({
      dataDir: dir,
      port,
      persistent: false,
      ...(PROFILING ? { settings: PROFILE_SETTINGS } : {}),
    });
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
  if (PROFILING) await dataSource.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const [org] = await dataSource.query(`INSERT INTO organizations (slug, name) VALUES ('bench', 'bench') RETURNING id`);
  return {
    url,
    dataSource,
    organizationId: org.id,
    serverDir,
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

/**
 * The floor row of ../shared/bench-peers (physical-limit.mjs) measured on the bench's own server: one connection,
 * `BEGIN; UPDATE one row; INSERT one row; COMMIT` with prepared statements, for `seconds`; latency BEGIN..COMMIT.
 */
export async function floorCommit(url: string, seconds = 3): Promise<{ p50: number; p95: number; tx: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS bench_floor_steps (id int PRIMARY KEY, run_id int, idx int, status text, output jsonb)`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS bench_floor_events (id bigserial PRIMARY KEY, run_id int, type text, payload jsonb, created_at timestamptz DEFAULT now())`,
    );
    await client.query(`CREATE INDEX IF NOT EXISTS bench_floor_events_run_idx ON bench_floor_events (run_id)`);
    await client.query(
      `INSERT INTO bench_floor_steps SELECT i, i / 20, i % 20, 'running', NULL FROM generate_series(1, 20000) i ON CONFLICT DO NOTHING`,
    );
    const latencies: number[] = [];
    const until = Date.now() + seconds * 1000;
    for (let i = 1; Date.now() < until; i++) {
      const id = (i % 20000) + 1;
      const t = performance.now();
      await client.query('BEGIN');
      await client.query({
        name: 'floor_upd',
        text: `UPDATE bench_floor_steps SET status = 'completed', output = $1 WHERE id = $2`,
        values: [{ ok: true }, id],
      });
      await client.query({
        name: 'floor_ins',
        text: `INSERT INTO bench_floor_events (run_id, type, payload) VALUES ($1, 'step.completed', $2)`,
        values: [Math.floor(id / 20), { ok: true }],
      });
      await client.query('COMMIT');
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), tx: latencies.length };
  } finally {
    await client.query('DROP TABLE IF EXISTS bench_floor_steps, bench_floor_events').catch(() => undefined);
    await client.end();
  }
}
