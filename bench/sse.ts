/**
 * SSE fan-out bench: N concurrent subscribers (default 500) on one run stream, served by a Baton API process
 * (BATON_ROLE=all, spawned from dist/) on a throw-away embedded PostgreSQL (or DATABASE_URL's server).
 *
 *   npm run bench:sse            (BENCH_SUBSCRIBERS=500, BENCH_STEPS=40)
 *
 * Prints, for events written after every subscriber was connected:
 * - delivery latency per (event, subscriber): client receive time minus the event's created_at. created_at is the
 *   writing transaction's start (now()), so this slightly overstates the commit-to-client latency;
 * - fan-out spread: receive time minus the first subscriber's receive time of the same event;
 * - server memory per subscriber: growth of the API process's RSS (/proc) once all subscribers are connected.
 * Every subscriber must receive the run's complete event log, in order, and see the stream end after run.completed.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '#config';
import { ensureDatabase, startEmbeddedPostgres, withDatabase, type EmbeddedServer } from '#persistence';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 500);
const STEPS = Number(process.env.BENCH_STEPS ?? 40);

interface Received {
  id: string;
  type: string;
  createdAt: number;
  at: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function json<T>(url: string, init: RequestInit & { token?: string } = {}): Promise<T> {
  const response = await fetch(url, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}) },
  });
  const body = (await response.json()) as T;
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** A minimal SSE reader over http.get: one connection, frames parsed as they arrive. */
function subscribe(url: string, token: string, agent: Agent, onOpen: () => void): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const request = get(
      url,
      { agent, headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        onOpen();
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const at = Date.now();
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (!data) continue;
            const event = JSON.parse(data) as { id: string; type: string; createdAt: string };
            received.push({ id: event.id, type: event.type, createdAt: Date.parse(event.createdAt), at });
          }
        });
        res.on('end', () => resolve(received));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}

async function main(): Promise<void> {
  let embedded: EmbeddedServer | undefined;
  let dataDir: string | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    const name = `baton_bench_sse_${process.pid}`;
    await ensureDatabase(databaseUrl, name);
    databaseUrl = withDatabase(databaseUrl, name);
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    chmodSync(dataDir, 0o755);
    embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
    await ensureDatabase(embedded.adminUrl, 'baton_bench');
    databaseUrl = withDatabase(embedded.adminUrl, 'baton_bench');
  }

  const port = await freePort();
  const api = spawn(process.execPath, [join(projectRoot(), 'dist/apps/api/src/main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      BATON_ROLE: 'all',
      BATON_AUTO_MIGRATE: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
      BATON_RUN_RATE_LIMIT: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  api.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  api.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (api.exitCode !== null) throw new Error(`API exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`API did not start:\n${output}`);
      const ready = await fetch(`${base}/ready`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const { access_token: token } = await json<{ access_token: string }>(`${base}/auth/login`, {
      method: 'POST',
      body: JSON.stringify({ email: 'admin@baton.local', password: process.env.ADMIN_PASSWORD ?? 'baton-admin' }),
    });
    // A first step that waits while the subscribers connect, then a chain of short steps (about 3 events each).
    const steps: unknown[] = [{ key: 'wait', agent: 'sleep', input: { ms: 4000 } }];
    for (let i = 0; i < STEPS; i++)
      steps.push({ key: `s${i}`, agent: 'sleep', dependsOn: [i === 0 ? 'wait' : `s${i - 1}`], input: { ms: 20 } });
    const slug = `bench-sse-${Date.now().toString(36)}`;
    await json(`${base}/orchestrations/definitions`, { method: 'POST', token, body: JSON.stringify({ slug, name: slug, steps }) });
    const run = await json<{ id: string }>(`${base}/orchestrations/runs`, {
      method: 'POST',
      token,
      body: JSON.stringify({ definition: slug, input: {} }),
    });

    await new Promise((r) => setTimeout(r, 300));
    const rssBefore = rssKb(api.pid as number);
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    let opened = 0;
    const connectStart = Date.now();
    const streams = Array.from({ length: SUBSCRIBERS }, () =>
      subscribe(`${base}/orchestrations/runs/${run.id}/stream`, token, agent, () => opened++),
    );
    while (opened < SUBSCRIBERS) await new Promise((r) => setTimeout(r, 10));
    const allConnectedAt = Date.now();
    await new Promise((r) => setTimeout(r, 200));
    const rssConnected = rssKb(api.pid as number);
    const results = await Promise.all(streams);
    const rssAfter = rssKb(api.pid as number);

    const log = (
      await json<{ items: { id: string; type: string; createdAt: string }[] }>(`${base}/orchestrations/runs/${run.id}/events?limit=1000`, {
        token,
      })
    ).items;
    const expectedIds = log.map((e) => e.id).join(',');
    const complete = results.filter((r) => r.map((e) => e.id).join(',') === expectedIds).length;

    const latencies: number[] = [];
    const spreads: number[] = [];
    const measured = log.filter((e) => Date.parse(e.createdAt) > allConnectedAt);
    for (const event of measured) {
      const receipts = results.map((r) => r.find((e) => e.id === event.id)).filter((e): e is Received => e !== undefined);
      const first = Math.min(...receipts.map((e) => e.at));
      for (const receipt of receipts) {
        latencies.push(receipt.at - receipt.createdAt);
        spreads.push(receipt.at - first);
      }
    }
    latencies.sort((a, b) => a - b);
    spreads.sort((a, b) => a - b);
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    console.log(
      `SSE fan-out: ${SUBSCRIBERS} subscribers on one run stream (${log.length} events, ${measured.length} written after all connected)`,
    );
    console.log(`  connect: all ${SUBSCRIBERS} streams open in ${ms(allConnectedAt - connectStart)}`);
    console.log(
      `  complete and in order: ${complete}/${SUBSCRIBERS} subscribers received exactly the run's event log, then the stream ended`,
    );
    console.log(`  delivery latency (event transaction start -> client), ${latencies.length} deliveries:`);
    console.log(
      `    p50 ${ms(percentile(latencies, 50))}  p95 ${ms(percentile(latencies, 95))}  p99 ${ms(percentile(latencies, 99))}  max ${ms(latencies[latencies.length - 1] ?? NaN)}`,
    );
    console.log(
      `  fan-out spread (first -> each subscriber): p50 ${ms(percentile(spreads, 50))}  p95 ${ms(percentile(spreads, 95))}  max ${ms(spreads[spreads.length - 1] ?? NaN)}`,
    );
    console.log(
      `  API process RSS: ${(rssBefore / 1024).toFixed(1)} MB before, ${(rssConnected / 1024).toFixed(1)} MB with ${SUBSCRIBERS} connected ` +
        `(${((rssConnected - rssBefore) / SUBSCRIBERS).toFixed(1)} KB per subscriber), ${(rssAfter / 1024).toFixed(1)} MB after the run`,
    );
    agent.destroy();
    if (complete !== SUBSCRIBERS) process.exitCode = 1;
  } finally {
    if (api.exitCode === null) {
      const exited = new Promise((r) => api.once('exit', r));
      api.kill('SIGTERM');
      await exited;
    }
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
