/**
 * Scale-out (issue 14; not part of the test suite): `npm run bench:scale-out`.
 * BENCH_RUNS (1,000) runs of a 20-step fan-out (1 -> 18 -> 1 echo steps) are created while no worker runs, then 1, 2
 * and 3 BATON_ROLE=worker processes (the compiled entry point, BATON_WORKER_CONCURRENCY each, default 50) are started
 * together against one fresh embedded PostgreSQL and left to finish them. Each round reports steps/s (from the first
 * step started to the last step finished, read from the rows), the sessions seen waiting on a lock (sampled every
 * 50 ms from pg_stat_activity: peak and mean) and the deadlocks PostgreSQL counted (pg_stat_database). The rounds
 * run one after another on the same server, 1 -> 2 -> 3 workers, then once more with 1 as a check on drift.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { RunStarter } from '#engine';
import { startWorkerProcess, type WorkerProcess } from '#testing';
import { WorkerModule } from '../apps/api/src/worker.module.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase } from './bench-database.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const ROUNDS = (process.env.BENCH_WORKERS ?? '1,2,3,1').split(',').map(Number);
const CONCURRENCY = process.env.BATON_WORKER_CONCURRENCY ?? '50';
const WIDTH = 18;

const spec: DefinitionSpec = {
  slug: 'scale-out',
  name: `fan-out 1 -> ${WIDTH} -> 1`,
  steps: [
    { key: 'start', agent: 'echo' },
    ...Array.from({ length: WIDTH }, (_, i) => ({ key: `s${i}`, agent: 'echo', dependsOn: ['start'] })),
    { key: 'join', agent: 'echo', dependsOn: Array.from({ length: WIDTH }, (_, i) => `s${i}`) },
  ],
};

const db = await openBenchDatabase('scaleout');
const ds = db.dataSource;
await insertBenchDefinition(ds, db.organizationId, spec);
// The bench process only creates runs: role api, no worker of its own.
const config = loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_ROLE: 'api' });
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
await app.init();
const starter = app.get(RunStarter);

async function deadlocks(): Promise<number> {
  const [{ n }] = await ds.query(`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`);
  return n;
}

async function round(workers: number) {
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, RUNS - i) }, () => starter.start({ organizationId: db.organizationId, definition: spec.slug, input: {} })),
    );
    ids.push(...batch.map((b) => b.run.id));
  }
  const deadlocksBefore = await deadlocks();
  const waits: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      waits.push(n);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const env = { BATON_WORKER_CONCURRENCY: CONCURRENCY, LOG_LEVEL: 'log' };
  const procs: WorkerProcess[] = await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(db.url, env)));
  for (;;) {
    const [{ open }] = await ds.query(`SELECT count(*)::int AS open FROM orchestration_runs WHERE id = ANY($1) AND status NOT IN ('completed', 'failed', 'cancelled')`, [ids]);
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  sampling = false;
  await sampler;
  await Promise.all(procs.map((p) => p.stop()));
  const [{ bad }] = await ds.query(`SELECT count(*)::int AS bad FROM orchestration_runs WHERE id = ANY($1) AND status <> 'completed'`, [ids]);
  if (bad > 0) throw new Error(`${bad} runs did not complete`);
  const [span] = await ds.query(
    `SELECT count(*)::int AS steps, extract(epoch FROM max(s.completed_at) - min(s.started_at)) AS seconds,
            count(DISTINCT e.payload->>'worker')::int AS workers_seen
       FROM orchestration_steps s
       LEFT JOIN orchestration_events e ON e.run_id = s.run_id AND e.step_key = s.step_key AND e.type = 'step.started'
      WHERE s.run_id = ANY($1)`,
    [ids],
  );
  const seconds = Number(span.seconds);
  return {
    workers,
    runs: RUNS,
    steps: span.steps as number,
    workersSeen: span.workers_seen as number,
    seconds,
    stepsPerSecond: span.steps / seconds,
    runsPerSecond: RUNS / seconds,
    lockWaitPeak: Math.max(0, ...waits),
    lockWaitMean: waits.reduce((a, b) => a + b, 0) / Math.max(1, waits.length),
    deadlocks: (await deadlocks()) - deadlocksBefore,
  };
}

const results = [];
for (const workers of ROUNDS) {
  const r = await round(workers);
  results.push(r);
  console.log(
    `${r.workers} worker(s): ${r.runs} runs x ${spec.steps.length} steps in ${r.seconds.toFixed(1)} s = ${r.stepsPerSecond.toFixed(0)} steps/s ` +
      `(${r.runsPerSecond.toFixed(1)} runs/s; ${r.workersSeen} workers took steps); lock waits peak ${r.lockWaitPeak}, mean ${r.lockWaitMean.toFixed(2)}; deadlocks ${r.deadlocks}`,
  );
}
console.log(`machine: ${await machineInfo(ds)}, BATON_WORKER_CONCURRENCY=${CONCURRENCY} per worker`);
console.log(JSON.stringify(results));
await app.close();
await db.close();
