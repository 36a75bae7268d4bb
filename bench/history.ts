/**
 * History at scale (issue 14; not part of the test suite): `npm run bench:history`.
 * Fills the event log with BENCH_HISTORY_RUNS (1,000) runs of BENCH_HISTORY_EVENTS (1,000) events each (1,000,000 rows,
 * written by SQL in batches, then VACUUM ANALYZE), starts the API in process on a fresh embedded PostgreSQL, and times
 * over HTTP, BENCH_READS (100) times each after a warm-up, a page of PAGE (100) events read from an old position:
 * - `GET /orchestrations/runs/:id/events?after=<event at seq 500>&limit=100` of a random run;
 * - `GET /orchestrations/runs/:id/stream` with `Last-Event-ID` at seq 500: until the 100th replayed event arrives;
 * - `GET /orchestrations/stream` (the organization stream) with a `Last-Event-ID` from the first tenth of the log;
 * - `GET /orchestrations/events?run=<id>&limit=100` (the history search, which also counts).
 * Then prints the EXPLAIN (ANALYZE, BUFFERS) of the statements behind them (the repositories' own SQL constants), and
 * whether each plan reads through an index with no sequential scan and no sort.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '#config';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { RUN_EVENTS_SQL } from '../libs/engine/src/store/event-query.repository.js';
import { TAIL_READ_SQL } from '../libs/events/src/event-tail.repository.js';
import { RUN_EVENTS_AFTER_SQL } from '../libs/events/src/streams/event-stream.repository.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';

const RUNS = Number(process.env.BENCH_HISTORY_RUNS ?? 1000);
const EVENTS = Number(process.env.BENCH_HISTORY_EVENTS ?? 1000);
const READS = Number(process.env.BENCH_READS ?? 100);
const PAGE = 100;
const WARMUP = 10;
const FROM_SEQ = Math.floor(EVENTS / 2);

const db = await openBenchDatabase('history');
const ds = db.dataSource;
await insertBenchDefinition(ds, db.organizationId, { slug: 'history', name: 'history', steps: [{ key: 'a', agent: 'echo' }] });
await ds.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'viewer@bench.test', $2, 'viewer')`, [
  db.organizationId,
  await hashPassword('bench-password'),
]);

const fillStart = performance.now();
const [{ id: definitionId }] = await ds.query(`SELECT id FROM orchestration_definitions WHERE slug = 'history'`);
const runIds: string[] = (
  await ds.query(
    `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, status, last_seq, started_at)
     SELECT $1, $2, 'history', 1, 'running', $3, now() FROM generate_series(1, $4) RETURNING id`,
    [db.organizationId, definitionId, EVENTS, RUNS],
  )
).map((r: { id: string }) => r.id);
// Interleaved like a busy log (each batch holds a slice of every run's events), in separate transactions.
const BATCH_SEQS = Math.max(1, Math.floor(100_000 / RUNS));
for (let from = 1; from <= EVENTS; from += BATCH_SEQS) {
  await ds.query(
    `INSERT INTO orchestration_events (organization_id, run_id, seq, type, step_key, payload, created_at)
     SELECT $1, r.id, s.seq, 'step.progress', 'a', jsonb_build_object('progress', s.seq, 'note', 'lorem ipsum dolor sit amet'),
            now() - interval '1 hour' + s.seq * interval '1 millisecond'
       FROM unnest($2::uuid[]) AS r(id), generate_series($3::int, $4::int) AS s(seq)
      ORDER BY s.seq, r.id`,
    [db.organizationId, runIds, from, Math.min(EVENTS, from + BATCH_SEQS - 1)],
  );
}
await ds.query('VACUUM ANALYZE orchestration_events');
const [{ total }] = await ds.query(`SELECT count(*)::int AS total FROM orchestration_events`);
const fillSeconds = (performance.now() - fillStart) / 1000;

const app = await createApp({ ...loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn', BATON_ROLE: 'api' }), autoMigrate: false });
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const login = await fetch(`${base}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'viewer@bench.test', password: 'bench-password' }),
});
const token = ((await login.json()) as { access_token: string }).access_token;
const auth = { authorization: `Bearer ${token}` };

const randomRun = () => runIds[Math.floor(Math.random() * runIds.length)];
const eventAt = async (runId: string, seq: number): Promise<string> =>
  (await ds.query(`SELECT id::text FROM orchestration_events WHERE run_id = $1 AND seq = $2`, [runId, seq]))[0].id;

/** Reads the stream until `count` events arrived; returns the ms until then. */
async function streamPage(url: string, lastEventId: string, count: number): Promise<number> {
  const controller = new AbortController();
  const sent = performance.now();
  const res = await fetch(url, { headers: { ...auth, accept: 'text/event-stream', 'last-event-id': lastEventId }, signal: controller.signal });
  if (res.status !== 200 || !res.body) throw new Error(`${url} answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  let text = '';
  while (seen < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${url} ended after ${seen} events`);
    text += decoder.decode(value, { stream: true });
    const blocks = text.split('\n\n');
    text = blocks.pop() ?? '';
    seen += blocks.filter((b) => /^id: /m.test(b)).length;
  }
  const took = performance.now() - sent;
  controller.abort();
  await reader.cancel().catch(() => undefined);
  return took;
}

async function timed(label: string, once: () => Promise<number>) {
  const samples: number[] = [];
  for (let i = 0; i < READS + WARMUP; i++) {
    const took = await once();
    if (i >= WARMUP) samples.push(took);
  }
  samples.sort((a, b) => a - b);
  return { label, p50: percentile(samples, 50), p95: percentile(samples, 95), max: samples[samples.length - 1] };
}

const results = [
  await timed(`GET /orchestrations/runs/:id/events?after=<seq ${FROM_SEQ}>&limit=${PAGE}`, async () => {
    const runId = randomRun();
    const after = await eventAt(runId, FROM_SEQ);
    const sent = performance.now();
    const res = await fetch(`${base}/orchestrations/runs/${runId}/events?after=${after}&limit=${PAGE}`, { headers: auth });
    const body = (await res.json()) as { items: { seq: number }[] };
    const took = performance.now() - sent;
    if (res.status !== 200 || body.items.length !== PAGE || body.items[0].seq !== FROM_SEQ + 1) throw new Error(`events page answered ${res.status}`);
    return took;
  }),
  await timed(`run SSE replay from Last-Event-ID <seq ${FROM_SEQ}>, first ${PAGE} events`, async () => {
    const runId = randomRun();
    return streamPage(`${base}/orchestrations/runs/${runId}/stream`, await eventAt(runId, FROM_SEQ), PAGE);
  }),
  await timed(`organization SSE replay from an event in the first tenth of the log, first ${PAGE} events`, async () => {
    const [{ id }] = await ds.query(`SELECT id::text FROM orchestration_events ORDER BY id OFFSET $1 LIMIT 1`, [Math.floor(Math.random() * (total / 10))]);
    return streamPage(`${base}/orchestrations/stream`, id, PAGE);
  }),
  await timed(`GET /orchestrations/events?run=<id>&limit=${PAGE} (history search, with its count)`, async () => {
    const sent = performance.now();
    const res = await fetch(`${base}/orchestrations/events?run=${randomRun()}&limit=${PAGE}`, { headers: auth });
    await res.json();
    if (res.status !== 200) throw new Error(`history search answered ${res.status}`);
    return performance.now() - sent;
  }),
];

const sampleRun = runIds[Math.floor(runIds.length / 2)];
const sampleAfter = await eventAt(sampleRun, FROM_SEQ);
const [{ tx_id: oldTx, id: oldId }] = await ds.query(`SELECT tx_id::text, id::text FROM orchestration_events ORDER BY id OFFSET $1 LIMIT 1`, [Math.floor(total / 20)]);
const plans: { label: string; sql: string; params: unknown[] }[] = [
  { label: 'run history page (runEvents)', sql: RUN_EVENTS_SQL, params: [db.organizationId, sampleRun, sampleAfter, PAGE] },
  { label: 'run stream replay (runEventsAfter)', sql: RUN_EVENTS_AFTER_SQL, params: [sampleRun, FROM_SEQ, 500] },
  { label: 'organization stream replay (EventTailRepository.read)', sql: TAIL_READ_SQL, params: [oldTx, oldId, 1000, db.organizationId] },
];

console.log(`machine: ${await machineInfo(ds)}`);
console.log(`event log: ${total} events in ${RUNS} runs (${EVENTS} each), written and vacuumed in ${fillSeconds.toFixed(1)} s`);
for (const r of results) console.log(`${r.label}: p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (${READS} reads)`);
const verdicts: { label: string; indexed: boolean; executionMs: number }[] = [];
for (const plan of plans) {
  const rows: { 'QUERY PLAN': string }[] = await ds.query(`EXPLAIN (ANALYZE, BUFFERS) ${plan.sql}`, plan.params);
  const text = rows.map((r) => r['QUERY PLAN']).join('\n');
  const indexed = /Index (Only )?Scan/.test(text) && !/Seq Scan/.test(text) && !/\bSort\b/.test(text);
  const executionMs = Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1] ?? NaN);
  verdicts.push({ label: plan.label, indexed, executionMs });
  console.log(`\n-- ${plan.label}: ${indexed ? 'index scan, no seq scan, no sort' : 'NOT index-driven'}\n${text}`);
}
console.log(JSON.stringify({ total, runs: RUNS, eventsPerRun: EVENTS, results, plans: verdicts }));

await app.close();
await db.close();
