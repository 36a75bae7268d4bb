/**
 * Conversation history: appends BENCH_CONVERSATION_MESSAGES (1,000) messages to one context one after another (each
 * its own transaction under the conversation's row lock), then reads the last page of 100 over HTTP
 * (`GET /conversations/:contextId?after=900&limit=100`, authenticated, JSON) BENCH_READS (200) times, against an
 * in-process API on a fresh embedded PostgreSQL.
 *   npm run bench:conversations
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '#config';
import { ConversationsService } from '#conversations';
import { hashPassword } from '#identity';
import { createApp } from '../apps/api/src/bootstrap.js';
import { machineInfo, openBenchDatabase, percentile } from './bench-database.js';

const MESSAGES = Number(process.env.BENCH_CONVERSATION_MESSAGES ?? 1000);
const READS = Number(process.env.BENCH_READS ?? 200);
const PAGE = 100;
const WARMUP = 20;

const db = await openBenchDatabase('conversations');
await db.dataSource.query(
  `INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'viewer@bench.test', $2, 'viewer')`,
  [db.organizationId, await hashPassword('bench-password')],
);
const app = await createApp({ ...loadConfig({ ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }), autoMigrate: false });
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();
const service = app.get(ConversationsService);

const contextId = 'bench-context';
const appendStart = performance.now();
for (let i = 0; i < MESSAGES; i++)
  await service.recordUserMessage(db.organizationId, contextId, {
    runId: null,
    messageId: `m-${i}`,
    parts: [{ text: `message ${i}: ${'lorem ipsum '.repeat(8)}` }],
  });
const appendMs = performance.now() - appendStart;

const login = await fetch(`${base}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'viewer@bench.test', password: 'bench-password' }),
});
const token = ((await login.json()) as { access_token: string }).access_token;
const url = `${base}/conversations/${contextId}?after=${MESSAGES - PAGE}&limit=${PAGE}`;
const reads: number[] = [];
for (let i = 0; i < READS + WARMUP; i++) {
  const sent = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { history: { items: { seq: number }[] } };
  const took = performance.now() - sent;
  if (res.status !== 200 || body.history.items.length !== PAGE || body.history.items[PAGE - 1].seq !== MESSAGES)
    throw new Error(`last page answered ${res.status} with ${body.history?.items?.length} items`);
  if (i >= WARMUP) reads.push(took);
}
reads.sort((a, b) => a - b);
const f = (x: number) => x.toFixed(1);
const summary = {
  p50: f(percentile(reads, 50)),
  p95: f(percentile(reads, 95)),
  p99: f(percentile(reads, 99)),
  max: f(reads[reads.length - 1]),
};
console.log(`machine: ${await machineInfo(db.dataSource)}`);
console.log(`${MESSAGES} sequential appends to one context: ${f(appendMs)} ms (${f(appendMs / MESSAGES)} ms each)`);
console.log(
  `last page (${PAGE} of ${MESSAGES}) over HTTP, ${READS} reads after ${WARMUP} warm-up: p50 ${summary.p50} ms, p95 ${summary.p95} ms, p99 ${summary.p99} ms, max ${summary.max} ms`,
);
console.log(JSON.stringify({ bench: 'conversations', messages: MESSAGES, appendMsEach: appendMs / MESSAGES, lastPage: summary }));
await app.close();
await db.close();
process.exit(0);
