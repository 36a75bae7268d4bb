/**
 * 10,000 runs in flight with their steps sleeping (issue 14; not part of the test suite): `npm run bench:in-flight`.
 * One API + worker process (BATON_ROLE=all, `node dist/apps/api/src/main.js`, apart from the bench's clients so its
 * CPU and memory are its own) on a fresh embedded PostgreSQL (fsync on), with enough worker slots for every sleeper
 * (BATON_WORKER_CONCURRENCY = BENCH_SLEEPERS + 200).
 * 1. Baseline: BENCH_PROBES probe runs (a chain of 5 echo steps) one after another on the idle instance.
 * 2. BENCH_SLEEPERS (10,000) runs created over HTTP by 16 clients, each one step of the `sleep` agent that sleeps for
 *    longer than the bench: every run stays in flight, every step running, its lease renewed by the worker's heartbeat.
 * 3. Then, while they sleep: the same probes again, and p50/p95 of `GET /orchestrations/runs`, `/status` and
 *    `GET /orchestrations/approvals?status=pending`, RSS of the API process, and what the heartbeat's renewal of every
 *    lease costs the database (pg_stat_statements, if BENCH_PROFILE=1).
 * The probe's steps call an `api` agent whose peer is an HTTP server in this script (BATON_AGENT_ALLOW_PRIVATE_NETWORKS
 * on), which notes when each call arrives: claim and dispatch latency is POST sent -> first call arrived, and the
 * previous call answered -> the next call arrived (the result's commit, the next step's claim and its HTTP call), as the
 * agent sees it. Also: POST sent -> last call answered. "Flat" means the figures with 10,000 sleepers are those of the idle
 * instance.
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';
import { benchToken, jsonClient, spawnBenchApi, timedReads } from './bench-http.js';

const SLEEPERS = Number(process.env.BENCH_SLEEPERS ?? 10_000);
const PROBES = Number(process.env.BENCH_PROBES ?? 100);
const READS = Number(process.env.BENCH_READS ?? 200);
const SLEEP_MS = 30 * 60_000;

/** The probe agent's peer: notes the arrival of each call (by run and step) and answers at once. */
const arrivals = new Map<string, number[]>();
const answered = new Map<string, number[]>();
const peer = createServer((req, res) => {
  const at = performance.now();
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const { runId } = JSON.parse(body) as { runId: string };
    arrivals.set(runId, [...(arrivals.get(runId) ?? []), at]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}', () => answered.set(runId, [...(answered.get(runId) ?? []), performance.now()]));
  });
});
await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}/call`;

const db = await openBenchDatabase('inflight');
await db.dataSource.query(`INSERT INTO agents (organization_id, slug, name, type, config) VALUES ($1, 'probe', 'bench probe', 'api', $2)`, [
  db.organizationId,
  JSON.stringify({ url: peerUrl, body: { runId: '{{ run.id }}' } }),
]);
await insertBenchDefinition(db.dataSource, db.organizationId, {
  slug: 'bench-sleeper',
  name: 'one long sleep',
  steps: [{ key: 'nap', agent: 'sleep', input: { ms: SLEEP_MS }, timeoutMs: SLEEP_MS * 2 }],
});
await insertBenchDefinition(db.dataSource, db.organizationId, {
  slug: 'bench-probe',
  name: 'chain of 5',
  steps: Array.from({ length: 5 }, (_, i) => ({ key: `p${i}`, agent: 'probe', input: { i }, ...(i > 0 ? { dependsOn: [`p${i - 1}`] } : {}) })),
});
const api = await spawnBenchApi(db, { BATON_WORKER_CONCURRENCY: String(SLEEPERS + 200), BATON_AGENT_ALLOW_PRIVATE_NETWORKS: 'true' });
const token = await benchToken(db, api.base, 'operator');
const post = jsonClient(api.base, 16, token);
const get = jsonClient(api.base, 1, token);

interface ProbeFigures {
  claim: { p50: number; p95: number };
  stepToStep: { p50: number; p95: number };
  run: { p50: number; p95: number };
}

const figures = (values: number[]) => {
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 50), p95: percentile(values, 95) };
};

/** Probe runs one after another, each timed by its agent's peer (see the header). */
async function probes(): Promise<ProbeFigures> {
  const claim: number[] = [];
  const stepToStep: number[] = [];
  const runMs: number[] = [];
  for (let i = 0; i < PROBES + 5; i++) {
    const at = performance.now();
    const answer = await post('POST', '/orchestrations/runs', { definition: 'bench-probe', input: {} });
    if (answer.status !== 201) throw new Error(`POST /orchestrations/runs answered ${answer.status}: ${answer.body}`);
    const id = (JSON.parse(answer.body) as { id: string }).id;
    for (const deadline = Date.now() + 30_000; (answered.get(id)?.length ?? 0) < 5; await new Promise((r) => setTimeout(r, 1)))
      if (Date.now() > deadline) throw new Error(`probe run ${id}: ${arrivals.get(id)?.length ?? 0} of 5 calls in 30 s`);
    if (i < 5) continue; // warm-up
    const [came, went] = [arrivals.get(id) as number[], answered.get(id) as number[]];
    claim.push(came[0] - at);
    for (let k = 1; k < 5; k++) stepToStep.push(came[k] - went[k - 1]);
    runMs.push(went[4] - at);
  }
  return { claim: figures(claim), stepToStep: figures(stepToStep), run: figures(runMs) };
}

const f = (x: number) => x.toFixed(1);
const line = (label: string, p: ProbeFigures) =>
  console.log(
    `${label}: claim (POST sent -> first step called) p50 ${f(p.claim.p50)} ms p95 ${f(p.claim.p95)} ms; ` +
      `step answered -> next step called p50 ${f(p.stepToStep.p50)} ms p95 ${f(p.stepToStep.p95)} ms; POST -> last step answered p50 ${f(p.run.p50)} ms p95 ${f(p.run.p95)} ms`,
  );

console.log(`machine: ${await machineInfo(db.dataSource)}; ${SLEEPERS} sleeping runs, ${PROBES} probes (chain of 5 steps of an HTTP agent)`);
const idle = await probes();
line('idle instance', idle);
const idleRss = api.rssMb();

const createdAt = performance.now();
let sent = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (sent < SLEEPERS) {
      sent++;
      const answer = await post('POST', '/orchestrations/runs', { definition: 'bench-sleeper', input: {} });
      if (answer.status !== 201) throw new Error(`POST /orchestrations/runs answered ${answer.status}: ${answer.body}`);
    }
  }),
);
for (;;) {
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM orchestration_steps WHERE step_key = 'nap' AND status = 'running'`);
  if (n >= SLEEPERS) break;
  await new Promise((r) => setTimeout(r, 200));
}
const allSleeping = (performance.now() - createdAt) / 1000;
console.log(`${SLEEPERS} runs created and all their steps running (sleeping) after ${f(allSleeping)} s`);

const loaded = await probes();
line(`${SLEEPERS} steps sleeping`, loaded);
const rssMb = api.rssMb();
const [{ runs }] = await db.dataSource.query(`SELECT count(*)::int AS runs FROM orchestration_runs WHERE status = 'running'`);
const list = await timedReads(get, () => '/orchestrations/runs', READS);
const sleeperIds = ((await db.dataSource.query(`SELECT id FROM orchestration_runs WHERE status = 'running' LIMIT 1000`)) as { id: string }[]).map(
  (r) => r.id,
);
const status = await timedReads(get, () => `/orchestrations/runs/${sleeperIds[Math.floor(Math.random() * sleeperIds.length)]}/status`, READS);
const pending = await timedReads(get, () => '/orchestrations/approvals?status=pending', READS);
console.log(
  `${runs} runs in flight: RSS ${f(rssMb)} MB (idle ${f(idleRss)} MB); GET /orchestrations/runs p50 ${f(list.p50)} ms p95 ${f(list.p95)} ms; ` +
    `/status p50 ${f(status.p50)} ms p95 ${f(status.p95)} ms; /orchestrations/approvals?status=pending p50 ${f(pending.p50)} ms p95 ${f(pending.p95)} ms`,
);
const leases = await db.dataSource.query(
  `SELECT count(*)::int AS n, (extract(epoch FROM max(lease_expires_at) - min(lease_expires_at)) * 1000)::int AS spread_ms
     FROM orchestration_steps WHERE step_key = 'nap' AND status = 'running' AND lease_expires_at > now()`,
);
console.log(`leases held and unexpired: ${leases[0].n} of ${SLEEPERS} (renewed by the heartbeat; expiry spread ${leases[0].spread_ms} ms)`);
console.log(JSON.stringify({ bench: 'in-flight', sleepers: SLEEPERS, allSleepingSeconds: allSleeping, idle, loaded, rssMb, idleRss, list, status, pending, leases: leases[0] }));
await api.stop();
peer.close();
await db.close();
process.exit(0);
