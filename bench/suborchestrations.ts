/**
 * Sub-orchestration throughput (issue 10; not part of the test suite): `npm run bench:suborchestrations`.
 * PARENTS parent runs (100), each one step that fans out with forEach to CHILDREN child runs (20) of one echo step,
 * `concurrency: CHILD_CONCURRENCY` (all at once by default), with IN_FLIGHT parents running at a time (all by default),
 * on one in-process worker against a fresh embedded PostgreSQL with default durability.
 * Prints child runs/s, total steps/s (parent + children), parent latency p50/p95 (created -> completed), child latency
 * p50/p95, and the fan-out latency (parent step started -> its last child created), then JSON.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { RunStarter } from '#engine';
import { WorkerModule } from '../apps/api/src/worker.module.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';

const PARENTS = Number(process.env.BENCH_PARENTS ?? 100);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 20);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? PARENTS);
const CHILD_CONCURRENCY = Number(process.env.BENCH_CHILD_CONCURRENCY ?? CHILDREN);
const CONCURRENCY = process.env.BATON_WORKER_CONCURRENCY ?? '200';

const child: DefinitionSpec = { slug: 'bench-child', name: 'one echo step', steps: [{ key: 'echo', agent: 'echo', input: { item: '{{ input.item }}' } }] };
const parent: DefinitionSpec = {
  slug: 'bench-parent',
  name: `forEach ${CHILDREN} children`,
  steps: [{ key: 'each', type: 'orchestration', orchestration: 'bench-child', forEach: '{{ input.items }}', concurrency: CHILD_CONCURRENCY, input: { item: '{{ item }}' } }],
};

const db = await openBenchDatabase('suborchestrations');
for (const spec of [child, parent]) await insertBenchDefinition(db.dataSource, db.organizationId, spec);
const config = loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_ROLE: 'worker', BATON_WORKER_CONCURRENCY: CONCURRENCY });
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
await app.init();
const starter = app.get(RunStarter);
const items = Array.from({ length: CHILDREN }, (_, i) => i);

async function ms(sql: string, ids: string[]): Promise<number[]> {
  const rows: { ms: string }[] = await db.dataSource.query(sql, [ids]);
  return rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
}

async function round(total: number, inFlight: number) {
  const ids: string[] = [];
  const active = new Set<string>();
  const started = Date.now();
  while (ids.length < total || active.size > 0) {
    const refill = Math.min(inFlight - active.size, total - ids.length);
    const runs = await Promise.all(Array.from({ length: refill }, () => starter.start({ organizationId: db.organizationId, definition: parent.slug, input: { items } })));
    for (const { run } of runs) {
      ids.push(run.id);
      active.add(run.id);
    }
    await new Promise((r) => setTimeout(r, 5));
    const done: { id: string }[] = await db.dataSource.query(`SELECT id FROM orchestration_runs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')`, [[...active]]);
    for (const row of done) active.delete(row.id);
  }
  const seconds = (Date.now() - started) / 1000;
  const [{ bad }] = await db.dataSource.query(`SELECT count(*)::int AS bad FROM orchestration_runs WHERE id = ANY($1) AND status <> 'completed'`, [ids]);
  if (bad > 0) throw new Error(`${bad} parent runs did not complete`);
  const [{ kids }] = await db.dataSource.query(`SELECT count(*)::int AS kids FROM orchestration_runs WHERE parent_run_id = ANY($1) AND status = 'completed'`, [ids]);
  if (kids !== total * CHILDREN) throw new Error(`${kids} completed children, expected ${total * CHILDREN}`);
  const parentMs = await ms(`SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM orchestration_runs WHERE id = ANY($1)`, ids);
  const childMs = await ms(`SELECT extract(epoch FROM completed_at - created_at) * 1000 AS ms FROM orchestration_runs WHERE parent_run_id = ANY($1)`, ids);
  const fanOutMs = await ms(
    `SELECT extract(epoch FROM max(c.created_at) - min(s.started_at)) * 1000 AS ms
       FROM orchestration_steps s JOIN orchestration_runs c ON c.parent_step_id = s.id
      WHERE s.run_id = ANY($1) GROUP BY s.id`,
    ids,
  );
  return {
    parents: total,
    children: total * CHILDREN,
    inFlight,
    seconds,
    childRunsPerSecond: (total * CHILDREN) / seconds,
    stepsPerSecond: (total * (CHILDREN + 1)) / seconds,
    parentP50: percentile(parentMs, 50),
    parentP95: percentile(parentMs, 95),
    childP50: percentile(childMs, 50),
    childP95: percentile(childMs, 95),
    fanOutP50: percentile(fanOutMs, 50),
    fanOutP95: percentile(fanOutMs, 95),
  };
}

console.log(
  `machine: ${await machineInfo(db.dataSource)}; worker concurrency ${CONCURRENCY}; ${PARENTS} parents x forEach ${CHILDREN} (child concurrency ${CHILD_CONCURRENCY}), ${IN_FLIGHT} parents in flight`,
);
await round(10, 10); // warm-up: JIT, caches, connection pools
const r = await round(PARENTS, IN_FLIGHT);
console.log(
  `${r.parents} parents / ${r.children} children in ${r.seconds.toFixed(2)} s: ${r.childRunsPerSecond.toFixed(0)} child runs/s, ${r.stepsPerSecond.toFixed(0)} steps/s; ` +
    `parent p50 ${r.parentP50.toFixed(0)} ms p95 ${r.parentP95.toFixed(0)} ms; child p50 ${r.childP50.toFixed(1)} ms p95 ${r.childP95.toFixed(1)} ms; ` +
    `fan-out p50 ${r.fanOutP50.toFixed(1)} ms p95 ${r.fanOutP95.toFixed(1)} ms`,
);
console.log(JSON.stringify({ bench: 'suborchestrations', result: r }));
await app.close();
await db.close();
process.exit(0);
