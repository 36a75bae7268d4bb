/**
 * Engine throughput and latency (issue 3; not part of the test suite): `npm run bench:engine`.
 * N runs of a 20-step fan-out (1 -> 18 -> 1) and of a 20-step chain of the echo agent, keeping 10 and 50 runs
 * in flight (a new run starts as soon as one completes), on one in-process worker against a fresh embedded
 * PostgreSQL with default durability (or a new database on DATABASE_URL's server).
 * Prints runs/s, steps/s, p50/p95 run latency (created -> completed) and p50/p95 dispatch latency (a step's
 * step.ready event -> its step.started event; 0 when the result transaction started it itself), then JSON.
 * Environment: BENCH_RUNS per cell (400), BATON_WORKER_CONCURRENCY (200).
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { RunStarter } from '#engine';
import { WorkerModule } from '../apps/api/src/worker.module.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 400);
const CONCURRENCY = process.env.BATON_WORKER_CONCURRENCY ?? '200';

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
  steps: Array.from({ length: 20 }, (_, i) => ({ key: `c${i}`, agent: 'echo', input: { i }, ...(i > 0 ? { dependsOn: [`c${i - 1}`] } : {}) })),
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
}

const db = await openBenchDatabase('engine');
for (const spec of [fanOut, chain]) await insertBenchDefinition(db.dataSource, db.organizationId, spec);
const config = loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_ROLE: 'worker', BATON_WORKER_CONCURRENCY: CONCURRENCY });
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
await app.init();
const starter = app.get(RunStarter);

async function ms(sql: string, ids: string[]): Promise<number[]> {
  const rows: { ms: string }[] = await db.dataSource.query(sql, [ids]);
  return rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
}

async function cell(spec: DefinitionSpec, inFlight: number, total: number): Promise<Cell> {
  const ids: string[] = [];
  const active = new Set<string>();
  const started = Date.now();
  while (ids.length < total || active.size > 0) {
    const refill = Math.min(inFlight - active.size, total - ids.length);
    const runs = await Promise.all(Array.from({ length: refill }, () => starter.start({ organizationId: db.organizationId, definition: spec.slug, input: {} })));
    for (const { run } of runs) {
      ids.push(run.id);
      active.add(run.id);
    }
    await new Promise((r) => setTimeout(r, 3));
    const done: { id: string }[] = await db.dataSource.query(`SELECT id FROM orchestration_runs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')`, [[...active]]);
    for (const row of done) active.delete(row.id);
  }
  const seconds = (Date.now() - started) / 1000;
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1) AND status <> 'completed'`, [ids]);
  if (n > 0) throw new Error(`${n} runs did not complete`);
  const runMs = await ms(`SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM orchestration_runs WHERE id = ANY($1)`, ids);
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
  };
}

console.log(`machine: ${await machineInfo(db.dataSource)}; worker concurrency ${CONCURRENCY}; ${RUNS} runs per cell`);
await cell(fanOut, 10, 40); // warm-up: JIT, caches, connection pools
const results: Cell[] = [];
for (const [spec, inFlight] of [
  [fanOut, 10],
  [fanOut, 50],
  [chain, 10],
  [chain, 50],
] as const) {
  const r = await cell(spec, inFlight, RUNS);
  results.push(r);
  console.log(
    `${r.shape.padEnd(15)} in flight ${String(inFlight).padStart(2)}: ${r.runsPerSecond.toFixed(1).padStart(6)} runs/s ${r.stepsPerSecond.toFixed(0).padStart(5)} steps/s` +
      `  run p50 ${r.runP50.toFixed(1)} ms p95 ${r.runP95.toFixed(1)} ms  dispatch p50 ${r.dispatchP50.toFixed(2)} ms p95 ${r.dispatchP95.toFixed(2)} ms`,
  );
}
console.log(JSON.stringify({ bench: 'engine', results }));
await app.close();
await db.close();
process.exit(0);
