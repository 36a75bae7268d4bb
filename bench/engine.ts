/**
 * Engine throughput and latency (issue 3; not part of the test suite): `npm run bench:engine`.
 * N runs of a 20-step fan-out (1 -> 18 -> 1) and of a 20-step chain of the echo agent, keeping 10 and 50 runs
 * in flight (a new run starts as soon as one completes), on one in-process worker against a fresh embedded
 * PostgreSQL with default durability (or a new database on DATABASE_URL's server).
 * Prints runs/s, steps/s, p50/p95 run latency (created -> completed) and p50/p95 dispatch latency (a step's
 * step.ready event -> its step.started event; 0 when the result transaction started it itself), then JSON.
 * Environment: BENCH_RUNS per cell (400), BATON_WORKER_CONCURRENCY (200), BENCH_SHAPES (cells to run, e.g.
 * `chain@10,fanout@50`; default all four), BENCH_PROFILE=1 (PostgreSQL's side of each cell, see pg-profile.ts),
 * BENCH_HTTP=1 (runs are started over HTTP, `POST /orchestrations/runs` on keep-alive connections, by an API + worker
 * process like one `npm start` instance: authentication, rate limit, validation and JSON included, so the API's share
 * shows against the in-process figures; run ends are seen in process in both modes).
 */
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { EngineDatabase, RunStarter } from '#engine';
import { WorkerModule } from '../apps/api/src/worker.module.js';
import { floorCommit, insertBenchDefinition, machineInfo, openBenchDatabase, percentile, PROFILING } from './bench-database.js';
import { benchToken, jsonClient, startBenchApi } from './bench-http.js';
import { CpuMeter, PgProfile } from './pg-profile.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 400);
const CONCURRENCY = process.env.BATON_WORKER_CONCURRENCY ?? '200';
const SHAPES = (process.env.BENCH_SHAPES ?? 'fanout@10,fanout@50,chain@10,chain@50').split(',').map((s) => s.trim());
const HTTP = process.env.BENCH_HTTP === '1';

const fanOut: DefinitionSpec = {
  slug: 'bench-fanout',
  name: 'fan-out 1 -> 18 -> 1',
  steps: [
    { key: 's0', agent: 'echo', input: { i: 0 } },
    ...Array.from({ length: 18 }, (_, i) => ({ key: `s${i + 1}`, agent: 'echo', dependsOn: ['s0'], input: { i: i + 1 } })),
    { key: 's19', agent: 'echo', dependsOn: Array.from({ length: 18 }, (_, i) => `s${i + 1}`), input: { i: 19 } },
  ],
};
const chain: DefinitionSpec = {
  slug: 'bench-chain',
  name: 'chain of 20',
  steps: Array.from({ length: 20 }, (_, i) => ({
    key: `c${i}`,
    agent: 'echo',
    input: { i },
    ...(i > 0 ? { dependsOn: [`c${i - 1}`] } : {}),
  })),
};

interface Cell {
  shape: string;
  inFlight: number;
  runs: number;
  seconds: number;
  runsPerSecond: number;
  stepsPerSecond: number;
  runP50: number;
  runP95: number;
  dispatchP50: number;
  dispatchP95: number;
  /** CPU milliseconds per step: the bench process (engine + driver) and the embedded PostgreSQL's processes. */
  nodeCpuMsPerStep: number;
  serverCpuMsPerStep: number;
  /** Start of a run as its caller sees it: RunStarter.start, or the POST answered (BENCH_HTTP=1). */
  startP50: number;
  startP95: number;
}

const db = await openBenchDatabase('engine');
for (const spec of [fanOut, chain]) await insertBenchDefinition(db.dataSource, db.organizationId, spec);
let app: INestApplicationContext;
let startRun: (definition: string) => Promise<string>;
if (HTTP) {
  const api = await startBenchApi(db, { BATON_WORKER_CONCURRENCY: CONCURRENCY });
  app = api.app;
  const post = jsonClient(api.base, 64, await benchToken(db, api.base, 'operator'));
  startRun = async (definition) => {
    const answer = await post('POST', '/orchestrations/runs', { definition, input: {} });
    if (answer.status !== 201) throw new Error(`POST /orchestrations/runs answered ${answer.status}: ${answer.body}`);
    return (JSON.parse(answer.body) as { id: string }).id;
  };
} else {
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    BATON_ROLE: 'worker',
    BATON_WORKER_CONCURRENCY: CONCURRENCY,
  });
  app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
  await app.init();
  const starter = app.get(RunStarter);
  startRun = async (definition) => (await starter.start({ organizationId: db.organizationId, definition, input: {} })).run.id;
}

async function ms(sql: string, ids: string[]): Promise<number[]> {
  const rows: { ms: string }[] = await db.dataSource.query(sql, [ids]);
  return rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
}

// A run's end is seen in process, as its transaction commits (no polling: the driver costs the database nothing).
// BENCH_DRIVER=poll: read the runs' status every 3 ms instead (the driver of the figures before 2026-12-02, and the
// only one for builds without EngineDatabase.onCommitted).
const ended = new Set<string>();
const waiting = new Map<string, () => void>();
type EndObserver = (events: { type: string; runId: string }[]) => void;
const observable = app.get(EngineDatabase) as unknown as { onCommitted?: (observer: EndObserver) => void };
const polling = process.env.BENCH_DRIVER === 'poll' || typeof observable.onCommitted !== 'function';
const settle = (runId: string) => {
  const resolve = waiting.get(runId);
  if (resolve) {
    waiting.delete(runId);
    resolve();
  } else ended.add(runId);
};
if (!polling)
  observable.onCommitted?.((events) => {
    for (const e of events) if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') settle(e.runId);
  });
let reading = false;
const poller = polling
  ? setInterval(() => {
      if (waiting.size === 0 || reading) return;
      reading = true;
      void db.dataSource
        .query(`SELECT id FROM orchestration_runs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')`, [
          [...waiting.keys()],
        ])
        .then((rows: { id: string }[]) => rows.forEach((r) => settle(r.id)))
        .finally(() => (reading = false));
    }, 3)
  : null;
const runEnd = (runId: string) => (ended.delete(runId) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(runId, resolve)));

const cpu = new CpuMeter(db.serverDir);

async function cell(spec: DefinitionSpec, inFlight: number, total: number): Promise<Cell> {
  const ids: string[] = [];
  const starts: number[] = [];
  const started = Date.now();
  let launched = 0;
  cpu.start();
  // Each of `inFlight` loops starts a run as soon as its previous one ended.
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (launched < total) {
        launched++;
        const at = performance.now();
        const id = await startRun(spec.slug);
        starts.push(performance.now() - at);
        ids.push(id);
        await runEnd(id);
      }
    }),
  );
  starts.sort((a, b) => a - b);
  const seconds = (Date.now() - started) / 1000;
  const used = cpu.stop();
  const [{ n }] = await db.dataSource.query(
    `SELECT count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1) AND status <> 'completed'`,
    [ids],
  );
  if (n > 0) throw new Error(`${n} runs did not complete`);
  const runMs = await ms(
    `SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM orchestration_runs WHERE id = ANY($1)`,
    ids,
  );
  const dispatchMs = await ms(
    `SELECT extract(epoch FROM s.created_at - r.created_at) * 1000 AS ms
       FROM orchestration_events s
       JOIN orchestration_events r ON r.run_id = s.run_id AND r.step_key = s.step_key AND r.type = 'step.ready'
      WHERE s.type = 'step.started' AND s.run_id = ANY($1)`,
    ids,
  );
  return {
    shape: spec.slug === fanOut.slug ? 'fan-out 1-18-1' : 'chain 20',
    inFlight,
    runs: total,
    seconds,
    runsPerSecond: total / seconds,
    stepsPerSecond: (total * spec.steps.length) / seconds,
    runP50: percentile(runMs, 50),
    runP95: percentile(runMs, 95),
    dispatchP50: percentile(dispatchMs, 50),
    dispatchP95: percentile(dispatchMs, 95),
    nodeCpuMsPerStep: used.nodeMs / (total * spec.steps.length),
    serverCpuMsPerStep: used.serverMs / (total * spec.steps.length),
    startP50: percentile(starts, 50),
    startP95: percentile(starts, 95),
  };
}

console.log(
  `machine: ${await machineInfo(db.dataSource)}; worker concurrency ${CONCURRENCY}; ${RUNS} runs per cell; runs started ${HTTP ? 'over HTTP' : 'in process'}`,
);
await cell(fanOut, 10, 40); // warm-up: JIT, caches, connection pools
const profile = PROFILING ? new PgProfile(db.url, db.serverDir) : null;
await profile?.open();
const results: Cell[] = [];
for (const shape of SHAPES) {
  const [name, n] = shape.split('@');
  const spec = name === 'chain' ? chain : fanOut;
  const inFlight = Number(n);
  await profile?.start();
  const r = await cell(spec, inFlight, RUNS);
  const profiled = await profile?.stop();
  results.push(r);
  console.log(
    `${r.shape.padEnd(15)} in flight ${String(inFlight).padStart(2)}: ${r.runsPerSecond.toFixed(1).padStart(6)} runs/s ${r.stepsPerSecond.toFixed(0).padStart(5)} steps/s` +
      `  run p50 ${r.runP50.toFixed(1)} ms p95 ${r.runP95.toFixed(1)} ms  dispatch p50 ${r.dispatchP50.toFixed(2)} ms p95 ${r.dispatchP95.toFixed(2)} ms` +
      `  cpu/step node ${r.nodeCpuMsPerStep.toFixed(3)} ms pg ${r.serverCpuMsPerStep.toFixed(3)} ms  start p50 ${r.startP50.toFixed(1)} ms p95 ${r.startP95.toFixed(1)} ms`,
  );
  if (profiled) console.log(profiled);
}
await profile?.close();
if (poller) clearInterval(poller);
const floor = await floorCommit(db.url);
console.log(
  `floor (same server, now): one-row UPDATE + INSERT commit on one connection p50 ${floor.p50.toFixed(2)} ms p95 ${floor.p95.toFixed(2)} ms`,
);
for (const r of results.filter((x) => x.shape.startsWith('chain')))
  console.log(
    `chain step latency at ${r.inFlight} in flight: ${(r.runP50 / 20).toFixed(2)} ms (run p50 / 20) = ${(r.runP50 / 20 / floor.p50).toFixed(1)}x the floor's p50`,
  );
console.log(JSON.stringify({ bench: 'engine', floor, results }));
await app.close();
await db.close();
process.exit(0);
