/**
 * What a group step costs the database per turn (issue 16: "a 10-turn group of echo agents adds at most one commit per
 * turn"): BENCH_GROUP_RUNS (30) runs, one after another, of each of
 *   single   one echo step (the baseline: a run's creation and its completion),
 *   chain10  ten chained echo steps (what ten sequential steps cost the engine today),
 *   group10  one group step of two echo participants, maxTurns 10,
 * on one in-process worker (BATON_ROLE=worker: no API, no event tail) against a fresh embedded PostgreSQL.
 * For each shape it prints, per run, the delta of pg_stat_database.xact_commit (every committed transaction of the
 * database, read-only ones and the after-commit NOTIFYs included) and of transaction ids assigned (transactions that
 * wrote), both net of the background rate measured while idle; then the per-turn figure: (group10 - single) / 10.
 * Cumulative statistics reach pg_stat_database when backends flush them (at most every second, idle ones after ten),
 * so each phase is followed by a 12 s settle before it is read. Completion is observed in-process (the engine's
 * committed-events observer), so waiting costs no query.
 *   npm run bench:group
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { loadConfig } from '#config';
import type { DefinitionSpec } from '#core';
import { EngineDatabase, RunStarter } from '#engine';
import { WorkerModule } from '../apps/api/src/worker.module.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase } from './bench-database.js';

const RUNS = Number(process.env.BENCH_GROUP_RUNS ?? 30);
const TURNS = 10;
const SETTLE_MS = 12_000;

const single: DefinitionSpec = {
  slug: 'bench-single',
  name: 'one echo step',
  steps: [{ key: 's', agent: 'echo', input: { text: 'hello' } }],
};
const chain: DefinitionSpec = {
  slug: 'bench-chain10',
  name: 'ten chained echo steps',
  steps: Array.from({ length: TURNS }, (_, i) => ({
    key: `c${i}`,
    agent: 'echo',
    input: { text: 'hello' },
    ...(i > 0 ? { dependsOn: [`c${i - 1}`] } : {}),
  })),
};
const group: DefinitionSpec = {
  slug: 'bench-group10',
  name: 'a 10-turn group of echo agents',
  steps: [
    {
      key: 'talk',
      type: 'group',
      participants: [
        { agent: 'echo', name: 'left' },
        { agent: 'echo', name: 'right' },
      ],
      maxTurns: TURNS,
      input: { text: 'hello' },
    },
  ],
};

const db = await openBenchDatabase('group');
for (const spec of [single, chain, group]) await insertBenchDefinition(db.dataSource, db.organizationId, spec);
// No polling to speak of: nothing here waits on a poll (runs start in their creating transaction, results wake the lanes).
const config = loadConfig({
  ...process.env,
  DATABASE_URL: db.url,
  LOG_LEVEL: 'warn',
  BATON_ROLE: 'worker',
  BATON_POLL_INTERVAL_MS: '60000',
  BATON_LEASE_MS: '600000',
});
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
await app.init();
const starter = app.get(RunStarter);
const engine = app.get(EngineDatabase);
const waiting = new Map<string, () => void>();
const finished = new Set<string>();
engine.onCommitted((events) => {
  for (const e of events)
    if (e.type === 'run.completed' || e.type === 'run.failed') {
      finished.add(e.runId);
      waiting.get(e.runId)?.();
    }
});

interface Counters {
  commits: number;
  xids: number;
  /** WAL fsyncs of the whole server (pg_stat_io, PostgreSQL 18): the durable commits, group commit included. */
  walSyncs: number;
  at: number;
}

async function counters(ds: DataSource): Promise<Counters> {
  const [row] = await ds.query(
    `SELECT xact_commit::text AS commits, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax,
            (SELECT coalesce(sum(fsyncs), 0)::text FROM pg_stat_io WHERE object = 'wal') AS wal_syncs
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  return { commits: Number(row.commits), xids: Number(row.xmax), walSyncs: Number(row.wal_syncs), at: Date.now() };
}

async function runOnce(spec: DefinitionSpec): Promise<void> {
  const { run } = await starter.start({ organizationId: db.organizationId, definition: spec.slug, input: {} });
  if (finished.has(run.id)) return;
  await new Promise<void>((resolve) => waiting.set(run.id, resolve));
  waiting.delete(run.id);
}

const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

/** Runs `n` runs of `spec` one after another; the counters' deltas (settled), and how long it took. */
async function phase(spec: DefinitionSpec | null, n: number): Promise<{ commits: number; xids: number; walSyncs: number; ms: number }> {
  const before = await counters(db.dataSource);
  if (spec) for (let i = 0; i < n; i++) await runOnce(spec);
  await settle();
  const after = await counters(db.dataSource);
  // The two counter reads are transactions of their own (one commit; no xid).
  return {
    commits: after.commits - before.commits - 1,
    xids: after.xids - before.xids,
    walSyncs: after.walSyncs - before.walSyncs,
    ms: after.at - before.at,
  };
}

console.log(`machine: ${await machineInfo(db.dataSource)}`);
for (const spec of [single, chain, group]) for (let i = 0; i < 5; i++) await runOnce(spec); // warm-up
await settle();
const idle = await phase(null, 0);
const rate = { commits: idle.commits / idle.ms, xids: idle.xids / idle.ms, walSyncs: idle.walSyncs / idle.ms };
console.log(
  `background while idle: ${(rate.commits * 1000).toFixed(2)} commits/s, ${(rate.xids * 1000).toFixed(2)} writing transactions/s, ${(rate.walSyncs * 1000).toFixed(2)} WAL fsyncs/s (subtracted below)`,
);
type Key = 'commitsPerRun' | 'writesPerRun' | 'walSyncsPerRun';
const results: Record<string, Record<Key, number>> = {};
for (const spec of [single, chain, group]) {
  const p = await phase(spec, RUNS);
  const net = (key: 'commits' | 'xids' | 'walSyncs') => (p[key] - rate[key] * p.ms) / RUNS;
  results[spec.slug] = { commitsPerRun: net('commits'), writesPerRun: net('xids'), walSyncsPerRun: net('walSyncs') };
  const r = results[spec.slug];
  console.log(
    `${spec.name.padEnd(32)} ${RUNS} runs, per run: ${r.commitsPerRun.toFixed(2)} commits, ${r.writesPerRun.toFixed(2)} writing transactions, ${r.walSyncsPerRun.toFixed(2)} WAL fsyncs`,
  );
}
const perTurn = (key: Key, slug: string) => (results[slug][key] - results[single.slug][key]) / TURNS;
const figures = (slug: string) => ({
  commits: perTurn('commitsPerRun', slug),
  writes: perTurn('writesPerRun', slug),
  walSyncs: perTurn('walSyncsPerRun', slug),
});
const show = (f: ReturnType<typeof figures>) =>
  `${f.commits.toFixed(2)} commits, ${f.writes.toFixed(2)} writing transactions, ${f.walSyncs.toFixed(2)} WAL fsyncs`;
const [{ turns }] = await db.dataSource.query(`SELECT count(*)::int AS turns FROM group_turns`);
if (turns !== (RUNS + 5) * TURNS) throw new Error(`expected ${(RUNS + 5) * TURNS} recorded turns, found ${turns}`);
console.log(`per turn of the group, (group10 - single) / ${TURNS}: ${show(figures(group.slug))}`);
console.log(`per step of the chain, (chain10 - single) / ${TURNS}: ${show(figures(chain.slug))}`);
console.log(JSON.stringify({ bench: 'group', runs: RUNS, results, perGroupTurn: figures(group.slug), perChainStep: figures(chain.slug) }));
await app.close();
await db.close();
process.exit(0);
