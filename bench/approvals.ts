/**
 * Approval round trip: decision request sent (HTTP) -> the next step's agent invoked, over BENCH_APPROVALS (200)
 * approvals decided one after another, against an in-process API + worker on a fresh embedded PostgreSQL.
 *   npm run bench:approvals
 * "Started" is the moment the dependent step's agent is called: the dependent runs on a probe agent (a runner
 * registered by this script for agent type `api`) that records performance.now() when the worker invokes it, so
 * the figure includes the commit of whatever transaction started the step, not just its start timestamp.
 * Also printed: when the decision's HTTP answer arrived (the answer carries the run's task, read after commit).
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { completedTask, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { AgentRunnerRegistry, BaseAgentRunner } from '#agents';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';
import { benchToken, jsonClient, startBenchApi } from './bench-http.js';

const N = Number(process.env.BENCH_APPROVALS ?? 200);
const WARMUP = 20;

/** Resolves the waiter of a run when the worker calls this agent for it. */
class ProbeRunner extends BaseAgentRunner {
  readonly type = 'api' as const;
  readonly waiting = new Map<string, (at: number) => void>();

  async execute(request: TaskRequestDto): Promise<TaskResponseDto> {
    const at = performance.now();
    const runId = String(request.metadata?.runId);
    this.waiting.get(runId)?.(at);
    this.waiting.delete(runId);
    return completedTask(runId, runId, { probed: true });
  }

  invoked(runId: string): Promise<number> {
    return new Promise((resolve) => this.waiting.set(runId, resolve));
  }
}

const db = await openBenchDatabase('approvals');
await db.dataSource.query(
  `INSERT INTO agents (organization_id, slug, name, type, config) VALUES ($1, 'probe', 'bench probe', 'api', '{}')`,
  [db.organizationId],
);
await insertBenchDefinition(db.dataSource, db.organizationId, {
  slug: 'bench-gate',
  name: 'gate then publish',
  steps: [
    { key: 'draft', agent: 'echo', input: { text: 'x' }, approval: { prompt: 'Publish?' } },
    { key: 'publish', agent: 'probe', dependsOn: ['draft'], input: { text: '{{ steps.draft.output.text }}' } },
  ],
});
const { app, base } = await startBenchApi(db, { BATON_RUN_RATE_LIMIT: '600' });
const probe = new ProbeRunner();
app.get(AgentRunnerRegistry).register(probe);
// One user decides and starts: an admin (roles are read on every request); the decisions go over one keep-alive
// connection (node:http: undici's fetch spends ~1 ms of this process's CPU per request).
const decide = jsonClient(base, 1, await benchToken(db, base, 'admin'));
const post = (path: string, body: unknown) => decide('POST', path, body);

const runIds: string[] = [];
for (let i = 0; i < N + WARMUP; i++)
  runIds.push((JSON.parse((await post('/orchestrations/runs', { definition: 'bench-gate' })).body) as { id: string }).id);
for (;;) {
  const [{ n }] = await db.dataSource.query(
    `SELECT count(*)::int AS n FROM human_approvals WHERE run_id = ANY($1) AND status = 'pending'`,
    [runIds],
  );
  if (n === N + WARMUP) break;
  await new Promise((r) => setTimeout(r, 50));
}
const approvals: { id: string; run_id: string }[] = await db.dataSource.query(
  `SELECT id, run_id FROM human_approvals WHERE run_id = ANY($1) ORDER BY requested_at`,
  [runIds],
);
const started: number[] = [];
const answered: number[] = [];
for (const [i, approval] of approvals.entries()) {
  const invoked = probe.invoked(approval.run_id);
  const sent = performance.now();
  const res = await post(`/orchestrations/approvals/${approval.id}/decision`, { decision: 'continue' });
  if (res.status !== 200) throw new Error(`decision answered ${res.status}: ${res.body}`);
  const answeredAt = performance.now();
  const startedAt = await invoked;
  if (i < WARMUP) continue;
  started.push(startedAt - sent);
  answered.push(answeredAt - sent);
}
const summary = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(1);
  return { p50: f(percentile(xs, 50)), p95: f(percentile(xs, 95)), p99: f(percentile(xs, 99)), max: f(xs[xs.length - 1]) };
};
const s = summary(started);
const a = summary(answered);
console.log(`machine: ${await machineInfo(db.dataSource)}`);
console.log(
  `approval round trip (decision sent -> next step's agent invoked), ${started.length} approvals after ${WARMUP} warm-up: p50 ${s.p50} ms, p95 ${s.p95} ms, p99 ${s.p99} ms, max ${s.max} ms`,
);
console.log(`decision answered (HTTP 200 received): p50 ${a.p50} ms, p95 ${a.p95} ms, p99 ${a.p99} ms, max ${a.max} ms`);
console.log(JSON.stringify({ bench: 'approvals', n: started.length, started: s, answered: a }));
await app.close();
await db.close();
process.exit(0);
