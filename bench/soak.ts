/**
 * Soak (issue 14; not part of the test suite): `npm run bench:soak`.
 * BENCH_SOAK_SECONDS (600) of mixed load on one BATON_ROLE=all instance in process, on a fresh embedded PostgreSQL:
 * BENCH_IN_FLIGHT (40) runs kept in flight over HTTP, drawn in turn from a fan-out (1 -> 8 -> 1 echo steps), a chain of
 * 10 with a flaky step (retried), a checkpoint that the bench approves over HTTP as soon as it is pending, and a
 * sub-orchestration (forEach over 5 child runs). Every BENCH_WINDOW_SECONDS (60) it prints the window's completed runs,
 * their p50/p95 latency (created -> completed, from the rows), the process RSS and heap, the event-log size and the CPU
 * (this process and PostgreSQL) per completed run, which moves far less with the machine's other load; at the
 * end the first and last windows side by side (flat means within noise of each other), then JSON. BENCH_PROFILE=1 adds
 * PostgreSQL's side of each window (see pg-profile.ts): which statements grow more costly as the log grows.
 */
import 'reflect-metadata';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile, PROFILING } from './bench-database.js';
import { CpuMeter, PgProfile } from './pg-profile.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const WINDOW = Number(process.env.BENCH_WINDOW_SECONDS ?? 60);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 40);

const definitions: DefinitionSpec[] = [
  {
    slug: 'soak-fanout',
    name: 'fan-out',
    steps: [
      { key: 'start', agent: 'echo' },
      ...Array.from({ length: 8 }, (_, i) => ({ key: `f${i}`, agent: 'echo', dependsOn: ['start'] })),
      { key: 'join', agent: 'echo', dependsOn: Array.from({ length: 8 }, (_, i) => `f${i}`) },
    ],
  },
  {
    slug: 'soak-chain',
    name: 'chain with a flaky step',
    steps: Array.from({ length: 10 }, (_, i) => ({
      key: `c${i}`,
      agent: i === 5 ? 'flaky' : 'echo',
      ...(i === 5 ? { input: { failTimes: 1 }, retry: { maxAttempts: 3, initialDelayMs: 10 } } : {}),
      ...(i > 0 ? { dependsOn: [`c${i - 1}`] } : {}),
    })),
  },
  {
    slug: 'soak-approval',
    name: 'checkpoint',
    steps: [
      { key: 'draft', agent: 'echo', approval: { prompt: 'ok?' } },
      { key: 'publish', agent: 'echo', dependsOn: ['draft'] },
    ],
  },
  { slug: 'soak-child', name: 'child', steps: [{ key: 'one', agent: 'echo', input: { item: '{{ input.item }}' } }] },
  {
    slug: 'soak-parent',
    name: 'sub-orchestration',
    steps: [
      { key: 'each', type: 'orchestration', orchestration: 'soak-child', forEach: '{{ input.items }}', input: { item: '{{ item }}' } },
    ],
  },
];
const STARTED = ['soak-fanout', 'soak-chain', 'soak-approval', 'soak-parent'];

const db = await openBenchDatabase('soak');
const ds = db.dataSource;
for (const spec of definitions) await insertBenchDefinition(ds, db.organizationId, spec);
await ds.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'admin@bench.test', $2, 'admin')`, [
  db.organizationId,
  await hashPassword('bench-password'),
]);
const app = await createApp({
  ...loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_RUN_RATE_LIMIT: '1000000' }),
  autoMigrate: false,
});
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const call = async (method: string, path: string, body?: unknown, token?: string) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
};
const token = ((await call('POST', '/auth/login', { email: 'admin@bench.test', password: 'bench-password' })) as { access_token: string })
  .access_token;

const active = new Set<string>();
let next = 0;
let stopping = false;
const started = Date.now();

async function refill(): Promise<void> {
  while (!stopping) {
    const [{ open }] = await ds.query(
      `SELECT count(*)::int AS open FROM orchestration_runs WHERE id = ANY($1) AND status NOT IN ('completed', 'failed', 'cancelled')`,
      [[...active]],
    );
    if (open < active.size) {
      const done: { id: string }[] = await ds.query(
        `SELECT id FROM orchestration_runs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')`,
        [[...active]],
      );
      for (const row of done) active.delete(row.id);
    }
    const want = IN_FLIGHT - active.size;
    await Promise.all(
      Array.from({ length: want }, async () => {
        const definition = STARTED[next++ % STARTED.length];
        const input = definition === 'soak-parent' ? { items: [1, 2, 3, 4, 5] } : {};
        const run = (await call('POST', '/orchestrations/runs', { definition, input }, token)) as { id: string };
        active.add(run.id);
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function approve(): Promise<void> {
  while (!stopping) {
    const page = (await call('GET', '/orchestrations/approvals?status=pending&limit=100', undefined, token)) as { items: { id: string }[] };
    await Promise.all(
      page.items.map((a) =>
        call('POST', `/orchestrations/approvals/${a.id}/decision`, { decision: 'continue' }, token).catch(() => undefined),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Window {
  minute: number;
  completed: number;
  failed: number;
  p50: number;
  p95: number;
  rssMb: number;
  heapMb: number;
  events: number;
  /** CPU of this process (API, worker and the bench's clients) and of PostgreSQL per run completed in the window. */
  cpuMsPerRun: number;
}
const windows: Window[] = [];
async function sample(from: Date, to: Date, index: number): Promise<Window> {
  const rows: { ms: string; status: string }[] = await ds.query(
    `SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms, status FROM orchestration_runs
      WHERE parent_run_id IS NULL AND completed_at >= $1 AND completed_at < $2`,
    [from, to],
  );
  const ms = rows
    .filter((r) => r.status === 'completed')
    .map((r) => Number(r.ms))
    .sort((a, b) => a - b);
  // The log's size from its id sequence: a count(*) would scan the whole log every window, a cost growing with it.
  const [{ events }] = await ds.query(`SELECT last_value::int AS events FROM orchestration_events_id_seq`);
  const memory = process.memoryUsage();
  const used = cpu.stop();
  cpu.start();
  return {
    minute: index,
    completed: ms.length,
    failed: rows.length - ms.length,
    p50: percentile(ms, 50),
    p95: percentile(ms, 95),
    rssMb: memory.rss / 2 ** 20,
    heapMb: memory.heapUsed / 2 ** 20,
    events,
    cpuMsPerRun: (used.nodeMs + used.serverMs) / Math.max(1, ms.length),
  };
}

const profile = PROFILING ? new PgProfile(db.url, db.serverDir) : null;
await profile?.open();
await profile?.start();
const cpu = new CpuMeter(db.serverDir);
cpu.start();
const loops = [refill(), approve()];
for (let w = 1; w * WINDOW <= SECONDS; w++) {
  const from = new Date(started + (w - 1) * WINDOW * 1000);
  const to = new Date(started + w * WINDOW * 1000);
  await new Promise((r) => setTimeout(r, Math.max(0, to.getTime() - Date.now())));
  const window = await sample(from, to, w);
  windows.push(window);
  console.log(
    `window ${w} (${WINDOW} s): ${window.completed} runs completed, ${window.failed} not; latency p50 ${window.p50.toFixed(0)} ms, p95 ${window.p95.toFixed(0)} ms; ` +
      `RSS ${window.rssMb.toFixed(0)} MB, heap ${window.heapMb.toFixed(0)} MB; ${window.events} events in the log; CPU ${window.cpuMsPerRun.toFixed(1)} ms per run`,
  );
  if (profile) {
    console.log(await profile.stop());
    await profile.start();
  }
}
if (profile) {
  await profile.stop();
  await profile.close();
}
stopping = true;
await Promise.all(loops);
const first = windows[0];
const last = windows[windows.length - 1];
console.log(`machine: ${await machineInfo(ds)}; ${IN_FLIGHT} runs in flight`);
if (first && last)
  console.log(
    `first window -> last: runs ${first.completed} -> ${last.completed}, p95 ${first.p95.toFixed(0)} -> ${last.p95.toFixed(0)} ms, RSS ${first.rssMb.toFixed(0)} -> ${last.rssMb.toFixed(0)} MB, heap ${first.heapMb.toFixed(0)} -> ${last.heapMb.toFixed(0)} MB, CPU per run ${first.cpuMsPerRun.toFixed(1)} -> ${last.cpuMsPerRun.toFixed(1)} ms`,
  );
console.log(JSON.stringify(windows));
await app.close();
await db.close();
