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
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { completedTask, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { AgentRunnerRegistry, BaseAgentRunner } from '#agents';
import { loadConfig } from '#config';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';

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
await db.dataSource.query(
  `INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'approver@bench.test', $2, 'approver')`,
  [db.organizationId, await hashPassword('bench-password')],
);
const app = await createApp({ ...loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }), autoMigrate: false });
const probe = new ProbeRunner();
app.get(AgentRunnerRegistry).register(probe);
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const post = (path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
/** The decisions go over a plain keep-alive connection: undici's fetch spends ~1 ms of this process's CPU per request. */
const decide = (path: string, body: unknown, token: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (text += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject).end(payload);
  });
const token = (
  (await (await post('/auth/login', { email: 'approver@bench.test', password: 'bench-password' })).json()) as { access_token: string }
).access_token;
// The same user starts the runs: roles are read on every request, so promoting it lets the token do both.
await db.dataSource.query(`UPDATE users SET role = 'admin' WHERE email = 'approver@bench.test'`);

const runIds: string[] = [];
for (let i = 0; i < N + WARMUP; i++)
  runIds.push(((await (await post('/orchestrations/runs', { definition: 'bench-gate' }, token)).json()) as { id: string }).id);
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
  const res = await decide(`/orchestrations/approvals/${approval.id}/decision`, { decision: 'continue' }, token);
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
