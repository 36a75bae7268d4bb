/**
 * Run creation over HTTP and 10,000 runs in flight (issue 14; not part of the test suite): `npm run bench:runs`.
 * One API + worker process (BATON_ROLE=all, `node dist/apps/api/src/main.js`, apart from the bench's clients so its
 * CPU and memory are its own) on a fresh embedded PostgreSQL (fsync on). For each
 * client count of BENCH_CLIENTS (16,64), BENCH_RUN_CREATIONS (5000) runs are created by that many concurrent clients
 * on keep-alive connections, `POST /orchestrations/runs` (authentication, rate limit check, input validation and the
 * creating transaction included), of a two-step definition whose first step pauses at an approval, so every run stays
 * in flight. Prints runs/s (first request sent -> last answer), the POST latency, how long until every run was paused
 * at its approval, and CPU per run (API process, PostgreSQL). Then, with every run created so far paused (10,000 with
 * the defaults): RSS of the API process, and p50/p95 of `GET /orchestrations/runs`, `GET
 * /orchestrations/runs/:id/status` and `GET /orchestrations/approvals?status=pending` (BENCH_READS each, one client).
 * Each client count also has an A2A cell (BENCH_A2A=0 leaves it out): the same runs created through the definition
 * served as an A2A agent, JSON-RPC `SendMessage` (v1.0) to `POST /a2a/bench-gate` with `returnImmediately` (answered
 * once the task exists), so its runs/s and CPU per run read next to REST's.
 * BENCH_PROFILE=1: PostgreSQL's side of each cell (see pg-profile.ts); BENCH_API_CPU_PROF=<dir>: a CPU profile of the API.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile, PROFILING } from './bench-database.js';
import { benchToken, jsonClient, spawnBenchApi, timedReads, type JsonClient } from './bench-http.js';
import { CpuMeter, PgProfile } from './pg-profile.js';

const CLIENTS = (process.env.BENCH_CLIENTS ?? '16,64').split(',').map(Number);
const PER_CELL = Number(process.env.BENCH_RUN_CREATIONS ?? 5000);
const READS = Number(process.env.BENCH_READS ?? 200);
const WARMUP = 200;
const A2A = process.env.BENCH_A2A !== '0';
type Via = 'REST' | 'A2A';

const db = await openBenchDatabase('runs');
await insertBenchDefinition(db.dataSource, db.organizationId, {
  slug: 'bench-gate',
  name: 'draft, approve, publish',
  input: { type: 'object', properties: { n: { type: 'integer' } } },
  steps: [
    { key: 'draft', agent: 'echo', input: { n: '{{ input.n }}' }, approval: { prompt: 'Publish?' } },
    { key: 'publish', agent: 'echo', dependsOn: ['draft'], input: { text: '{{ steps.draft.output.n }}' } },
  ],
});
const api = await spawnBenchApi(db);
const base = api.base;
const token = await benchToken(db, base, 'operator');
const cpu = new CpuMeter(db.serverDir, api.pid);
const runIds: string[] = [];

/** One run: REST `POST /orchestrations/runs`, or A2A `SendMessage` answered as soon as the task exists. Its run id. */
async function createOne(post: JsonClient, via: Via, n: number): Promise<string> {
  if (via === 'REST') {
    const answer = await post('POST', '/orchestrations/runs', { definition: 'bench-gate', input: { n } });
    if (answer.status !== 201) throw new Error(`POST /orchestrations/runs answered ${answer.status}: ${answer.body}`);
    return (JSON.parse(answer.body) as { id: string }).id;
  }
  const message = { messageId: `bench-${process.pid}-${n}-${runIds.length}`, role: 'ROLE_USER', parts: [{ data: { n } }] };
  const answer = await post(
    'POST',
    '/a2a/bench-gate',
    { jsonrpc: '2.0', id: n, method: 'SendMessage', params: { message, configuration: { returnImmediately: true } } },
    { 'a2a-version': '1.0' },
  );
  const task = answer.status === 200 ? (JSON.parse(answer.body) as { result?: { task?: { id: string } } }).result?.task : undefined;
  if (!task) throw new Error(`A2A SendMessage answered ${answer.status}: ${answer.body}`);
  return task.id;
}

async function create(clients: number, total: number, via: Via = 'REST'): Promise<{ seconds: number; latencies: number[] }> {
  const post = jsonClient(base, clients, token);
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (sent < total) {
        const n = sent++;
        const at = performance.now();
        const id = await createOne(post, via, n);
        latencies.push(performance.now() - at);
        runIds.push(id);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

/** Seconds until every run created so far waits at its approval. */
async function settled(since: number): Promise<number> {
  for (;;) {
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE status = 'awaiting_approval'`);
    if (n >= runIds.length) return (performance.now() - since) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const f = (x: number) => x.toFixed(1);
console.log(`machine: ${await machineInfo(db.dataSource)}; ${PER_CELL} runs per cell, clients ${CLIENTS.join(', ')}`);
await create(16, WARMUP);
if (A2A) await create(16, WARMUP, 'A2A');
await settled(performance.now());
const profile = PROFILING ? new PgProfile(db.url, db.serverDir) : null;
await profile?.open();
const cells = [];
for (const [clients, via] of CLIENTS.flatMap((c) => (A2A ? [[c, 'REST'], [c, 'A2A']] : [[c, 'REST']]) as [number, Via][])) {
  await profile?.start();
  cpu.start();
  const startedAt = performance.now();
  const { seconds, latencies } = await create(clients, PER_CELL, via);
  const allPaused = await settled(startedAt);
  const used = cpu.stop();
  const cell = {
    via,
    clients,
    runs: PER_CELL,
    seconds,
    runsPerSecond: PER_CELL / seconds,
    postP50: percentile(latencies, 50),
    postP95: percentile(latencies, 95),
    postP99: percentile(latencies, 99),
    allPausedSeconds: allPaused,
    nodeCpuMsPerRun: used.nodeMs / PER_CELL,
    serverCpuMsPerRun: used.serverMs / PER_CELL,
  };
  cells.push(cell);
  console.log(
    `${via.padEnd(4)} ${String(clients).padStart(2)} clients: ${PER_CELL} runs in ${f(seconds)} s = ${cell.runsPerSecond.toFixed(0)} runs/s; ${via === 'REST' ? 'POST' : 'SendMessage'} p50 ${f(cell.postP50)} ms p95 ${f(cell.postP95)} ms p99 ${f(cell.postP99)} ms; ` +
      `all paused at their approval after ${f(allPaused)} s; cpu/run node ${cell.nodeCpuMsPerRun.toFixed(2)} ms pg ${cell.serverCpuMsPerRun.toFixed(2)} ms`,
  );
  const profiled = await profile?.stop();
  if (profiled) console.log(profiled);
}
await profile?.close();
for (const a2a of cells.filter((c) => c.via === 'A2A')) {
  const rest = cells.find((c) => c.via === 'REST' && c.clients === a2a.clients);
  if (rest)
    console.log(
      `A2A / REST at ${a2a.clients} clients: runs/s ${(a2a.runsPerSecond / rest.runsPerSecond).toFixed(2)}, ` +
        `cpu/run ${((a2a.nodeCpuMsPerRun + a2a.serverCpuMsPerRun) / (rest.nodeCpuMsPerRun + rest.serverCpuMsPerRun)).toFixed(2)}`,
    );
}

const inFlight = runIds.length;
const get = jsonClient(base, 1, token);
const rssMb = api.rssMb();
const list = await timedReads(get, () => '/orchestrations/runs', READS);
const status = await timedReads(get, () => `/orchestrations/runs/${runIds[Math.floor(Math.random() * runIds.length)]}/status`, READS);
const pending = await timedReads(get, () => '/orchestrations/approvals?status=pending', READS);
console.log(
  `${inFlight} runs in flight (paused at approvals): RSS ${rssMb.toFixed(0)} MB; GET /orchestrations/runs p50 ${f(list.p50)} ms p95 ${f(list.p95)} ms; ` +
    `/status p50 ${f(status.p50)} ms p95 ${f(status.p95)} ms; /orchestrations/approvals?status=pending p50 ${f(pending.p50)} ms p95 ${f(pending.p95)} ms`,
);
console.log(JSON.stringify({ bench: 'runs', cells, inFlight: { runs: inFlight, rssMb, list, status, pending } }));
await api.stop();
await db.close();
process.exit(0);
