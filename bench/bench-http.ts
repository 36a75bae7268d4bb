/**
 * The HTTP side of the benches: an in-process API (BATON_ROLE=all, like one `npm start` instance) listening on
 * 127.0.0.1, a user of the bench organization logged in through /auth/login, and a JSON client on keep-alive
 * connections. Requests use node:http directly: undici's fetch costs ~1 ms of the bench process's CPU per request,
 * which would be charged to the server.
 */
import type { NestExpressApplication } from '@nestjs/platform-express';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, projectRoot } from '#config';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { percentile, type BenchDatabase } from './bench-database.js';

export interface JsonAnswer {
  status: number;
  body: string;
}

export type JsonClient = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<JsonAnswer>;

/** Starts the API + worker on the bench database; run creation is not rate limited unless `env` says so. */
export async function startBenchApi(
  db: BenchDatabase,
  env: Record<string, string> = {},
): Promise<{ app: NestExpressApplication; base: string }> {
  const config = loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_RUN_RATE_LIMIT: '1000000000', ...env });
  const app = await createApp({ ...config, autoMigrate: false });
  await app.listen(0, '127.0.0.1');
  return { app, base: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

export interface SpawnedApi {
  base: string;
  pid: number;
  /** Resident memory of the API process, MB. */
  rssMb(): number;
  stop(): Promise<void>;
}

/**
 * The API + worker as a process of its own (`node dist/apps/api/src/main.js`, BATON_ROLE=all) on the bench database,
 * so its CPU and memory are measured apart from the bench's clients. Answers once /ready does.
 */
export async function spawnBenchApi(db: BenchDatabase, env: Record<string, string> = {}): Promise<SpawnedApi> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  // BENCH_API_NODE_ARGS: flags for the API's node, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (not allowed in NODE_OPTIONS);
  // BENCH_API_CPU_PROF=<dir>: the same as `--cpu-prof --cpu-prof-dir=<dir>` (a profile is written when the API stops).
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (process.env.BENCH_API_CPU_PROF) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_API_CPU_PROF}`);
  const child = spawn(process.execPath, [...nodeArgs, join(projectRoot(), 'dist/apps/api/src/main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      PORT: String(port),
      BATON_ROLE: 'all',
      BATON_AUTO_MIGRATE: 'false',
      LOG_LEVEL: 'warn',
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
      BATON_RUN_RATE_LIMIT: '1000000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const base = `http://127.0.0.1:${port}`;
  const ready = jsonClient(base, 1);
  for (const deadline = Date.now() + 60_000; ;) {
    if (child.exitCode !== null) throw new Error(`the API exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the API did not start:\n${output}`);
    if ((await ready('GET', '/ready').catch(() => ({ status: 0 }))).status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const pid = child.pid as number;
  return {
    base,
    pid,
    rssMb: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A JSON client on at most `sockets` keep-alive connections, sending `token` as a bearer token. */
export function jsonClient(base: string, sockets: number, token?: string): JsonClient {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  return (method, path, body, extra) =>
    new Promise<JsonAnswer>((resolve, reject) => {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const req = request(
        `${base}${path}`,
        {
          method,
          agent,
          headers: {
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...extra,
          },
        },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (chunk: string) => (text += chunk))
            .on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject).end(payload);
    });
}

/** A user of the bench organization with `role`, logged in: its access token. */
export async function benchToken(db: BenchDatabase, base: string, role = 'admin'): Promise<string> {
  const email = `${role}-${process.pid}@bench.test`;
  const password = 'bench-password';
  await db.dataSource.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, $2, $3, $4)`, [
    db.organizationId,
    email,
    await hashPassword(password),
    role,
  ]);
  const answer = await jsonClient(base, 1)('POST', '/auth/login', { email, password });
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { access_token: string }).access_token;
}

/** p50 and p95 of `reads` GETs of `path()` one after another (after 20 unmeasured ones); any answer but 200 throws. */
export async function timedReads(client: JsonClient, path: () => string, reads: number): Promise<{ p50: number; p95: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < reads + 20; i++) {
    const at = performance.now();
    const answer = await client('GET', path());
    if (answer.status !== 200) throw new Error(`GET ${path()} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    if (i >= 20) latencies.push(performance.now() - at);
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95) };
}
