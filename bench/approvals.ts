/**
 * Approval round trip: decision request sent (HTTP) -> the next step started, over BENCH_APPROVALS (200)
 * approvals decided one after another, against an in-process API + worker on a fresh embedded PostgreSQL.
 *   npm run bench:approvals
 * "Started" is the created_at of the dependent step's step.started event; both clocks are this machine's.
 */
import 'reflect-metadata';
import { loadConfig } from '#config';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { insertBenchDefinition, machineInfo, openBenchDatabase, percentile } from './bench-database.js';

const N = Number(process.env.BENCH_APPROVALS ?? 200);
const db = await openBenchDatabase('approvals');
await insertBenchDefinition(db.dataSource, db.organizationId, {
  slug: 'bench-gate',
  name: 'gate then publish',
  steps: [
    { key: 'draft', agent: 'echo', input: { text: 'x' }, approval: { prompt: 'Publish?' } },
    { key: 'publish', agent: 'echo', dependsOn: ['draft'], input: { text: '{{ steps.draft.output.text }}' } },
  ],
});
await db.dataSource.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'approver@bench.test', $2, 'approver')`, [
  db.organizationId,
  await hashPassword('bench-password'),
]);
const app = await createApp({ ...loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }), autoMigrate: false });
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const post = (path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
const token = ((await (await post('/auth/login', { email: 'approver@bench.test', password: 'bench-password' })).json()) as { access_token: string }).access_token;
await db.dataSource.query(`UPDATE users SET role = 'admin' WHERE email = 'approver@bench.test'`);

const runIds: string[] = [];
for (let i = 0; i < N; i++) runIds.push(((await (await post('/orchestrations/runs', { definition: 'bench-gate' }, token)).json()) as { id: string }).id);
for (;;) {
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM human_approvals WHERE run_id = ANY($1) AND status = 'pending'`, [runIds]);
  if (n === N) break;
  await new Promise((r) => setTimeout(r, 50));
}
const approvals: { id: string; run_id: string }[] = await db.dataSource.query(`SELECT id, run_id FROM human_approvals WHERE run_id = ANY($1)`, [runIds]);
const latencies: number[] = [];
for (const approval of approvals) {
  const sent = Date.now();
  const res = await post(`/orchestrations/approvals/${approval.id}/decision`, { decision: 'continue' }, token);
  if (res.status !== 200) throw new Error(`decision answered ${res.status}: ${await res.text()}`);
  for (;;) {
    const rows: { at: Date }[] = await db.dataSource.query(
      `SELECT created_at AS at FROM orchestration_events WHERE run_id = $1 AND step_key = 'publish' AND type = 'step.started'`,
      [approval.run_id],
    );
    if (rows.length > 0) {
      latencies.push(new Date(rows[0].at).getTime() - sent);
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
latencies.sort((a, b) => a - b);
console.log(`machine: ${await machineInfo(db.dataSource)}`);
console.log(`approval round trip (decision sent -> next step started), ${latencies.length} approvals: p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${latencies[latencies.length - 1]} ms`);
console.log(JSON.stringify({ bench: 'approvals', n: latencies.length, p50: percentile(latencies, 50), p95: percentile(latencies, 95) }));
await app.close();
await db.close();
process.exit(0);
