/**
 * Chaos under load (issue #13): 1 API + 3 worker processes on a PostgreSQL this script owns; a stream of mixed runs
 * (fan-out + join, chains with flaky steps, approvals decided by a bot, a forEach of sub-orchestrations running the
 * flaky chain as child runs), a webhook receiver that verifies every
 * signature and an SSE client on the organization stream (it resumes with Last-Event-ID by itself). Meanwhile:
 * repeated kill -9 of workers (each restarted), one kill -9 of the API (restarted) and one PostgreSQL restart in
 * the middle. Then it waits for every run to end and prints what survived:
 *   runs by status, child runs included (all must be completed), completed steps applied more than once (0), runs
 *   whose event seq has a gap (0), events the webhook never received (0), bad signatures (0), events the SSE client
 *   missed (0).
 * Exit code 1 when any count is wrong.
 *
 *   npm run bench:chaos                 # defaults: 60 runs over ~30 s
 *   CHAOS_RUNS=200 npm run bench:chaos
 */
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { hashPassword } from '#identity';
import { createDataSource, ensureDatabase, migrateDatabase, startEmbeddedPostgres, withDatabase, type EmbeddedServer } from '#persistence';
import { freePort, openSse, startApiProcess, startWorkerProcess, type ApiProcess, type WorkerProcess } from '#testing';
import { verifyWebhook } from '#webhooks';

const RUNS = Number(process.env.CHAOS_RUNS ?? 60);
const PASSWORD = 'correct-horse-battery';
const log = (message: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${message}`);

const DEFINITIONS = [
  {
    slug: 'chaos-fanout',
    name: 'fan-out and join',
    steps: [
      ...Array.from({ length: 5 }, (_, i) => ({ key: `leg${i}`, agent: 'sleep', input: { ms: 100 + i * 50 } })),
      { key: 'join', agent: 'echo', dependsOn: ['leg0', 'leg1', 'leg2', 'leg3', 'leg4'], input: { joined: true } },
    ],
  },
  {
    slug: 'chaos-chain',
    name: 'chain with flaky steps',
    steps: [
      { key: 'a', agent: 'echo', input: { n: 1 } },
      {
        key: 'b',
        agent: 'flaky',
        dependsOn: ['a'],
        input: { failTimes: 2 },
        retry: { maxAttempts: 5, backoff: 'fixed', initialDelayMs: 100, maxDelayMs: 100 },
      },
      { key: 'c', agent: 'sleep', dependsOn: ['b'], input: { ms: 300 } },
      {
        key: 'd',
        agent: 'flaky',
        dependsOn: ['c'],
        input: { failTimes: 1 },
        retry: { maxAttempts: 5, backoff: 'fixed', initialDelayMs: 100, maxDelayMs: 100 },
      },
    ],
  },
  {
    // after chaos-chain, which it runs: one child run per item, two at a time, then a join on their outputs
    slug: 'chaos-sub',
    name: 'sub-orchestrations',
    steps: [
      { key: 'children', type: 'orchestration', orchestration: 'chaos-chain', forEach: '{{ input.items }}', concurrency: 2, input: { item: '{{ item }}' } },
      { key: 'join', agent: 'echo', dependsOn: ['children'], input: { got: '{{ steps.children.output }}' } },
    ],
  },
  {
    slug: 'chaos-approval',
    name: 'approval decided by a bot',
    steps: [
      { key: 'draft', agent: 'echo', input: { text: 'draft' }, approval: { prompt: 'Publish?' } },
      { key: 'publish', agent: 'echo', dependsOn: ['draft'], input: { text: 'published' } },
    ],
  },
];

class Receiver {
  readonly received = new Map<string, number>();
  badSignatures = 0;
  secret = '';
  private server?: Server;
  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => req.headers[name.toLowerCase()] as string | undefined;
        const ok = verifyWebhook(
          this.secret,
          { timestamp: header('X-Orchestration-Timestamp'), signature: header('X-Orchestration-Signature') },
          raw,
        );
        if (!ok) {
          this.badSignatures++;
          res.writeHead(401).end();
          return;
        }
        const id = header('X-Orchestration-Event-Id') ?? '';
        this.received.set(id, (this.received.get(id) ?? 0) + 1);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as { port: number }).port}/hook`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-chaos-'));
  chmodSync(dataDir, 0o755);
  const pgPort = await freePort();
  let pg: EmbeddedServer = await startEmbeddedPostgres({ dataDir, port: pgPort, persistent: true });
  const url = withDatabase(pg.adminUrl, 'baton_chaos');
  await ensureDatabase(pg.adminUrl, 'baton_chaos');
  let ds: DataSource = createDataSource(url, 2);
  await ds.initialize();
  await migrateDatabase(ds);
  const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('chaos', 'chaos') RETURNING id`);
  await ds.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'admin@chaos.test', $2, 'admin')`, [
    org.id,
    await hashPassword(PASSWORD),
  ]);
  await ds.destroy();

  // Short leases so a killed worker's steps come back quickly; webhook retries fast so the count settles.
  const env = {
    BATON_LEASE_MS: '3000',
    BATON_POLL_INTERVAL_MS: '200',
    BATON_WEBHOOK_RETRY_DELAY_MS: '200',
    BATON_WEBHOOK_MAX_RETRY_DELAY_MS: '2000',
    BATON_WEBHOOK_MAX_ATTEMPTS: '30',
    BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    BATON_DB_STARTUP_RETRY_MS: '60000',
  };
  // a process that exits without being killed by us is a crash (e.g. an unhandled 'error' of a dying connection)
  const crashes: string[] = [];
  const killed = new Set<number>();
  const watch = <P extends WorkerProcess>(p: P, what: string): P => {
    p.child.once('exit', (code, signal) => {
      if (!killed.has(p.pid) && !stopping) crashes.push(`${what} ${p.pid} exited ${code ?? signal}: ${p.output().slice(-500)}`);
    });
    return p;
  };
  let stopping = false;
  let api: ApiProcess = watch(await startApiProcess(url, env), 'API');
  const port = new URL(api.baseUrl).port;
  const workers: WorkerProcess[] = await Promise.all([0, 1, 2].map(async () => watch(await startWorkerProcess(url, env), 'worker')));
  const base = api.baseUrl;
  log(`PostgreSQL on ${pgPort}, API ${base}, workers ${workers.map((w) => w.pid).join(', ')}`);

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(base + path, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(10_000),
        });
        if (res.status >= 500 && attempt < 60) throw new Error(`${res.status}`);
        return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
      } catch (error) {
        if (attempt >= 60) throw error;
        await sleep(500); // the API or the database is down for a moment: a client retries
      }
    }
  };
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'admin@chaos.test', password: PASSWORD }),
  });
  const token = ((await login.json()) as { access_token: string }).access_token;
  for (const definition of DEFINITIONS) await call('POST', '/orchestrations/definitions', token, definition);
  const receiver = new Receiver();
  const hook = await call('POST', '/webhooks', token, { url: await receiver.listen() });
  receiver.secret = String(hook.body.secret);
  const sse = openSse(`${base}/orchestrations/stream`, token);
  await sleep(500);

  let stop = false;
  // the approval bot
  const bot = (async () => {
    while (!stop) {
      const page = await call('GET', '/orchestrations/approvals?status=pending&limit=100', token).catch(() => null);
      for (const item of (page?.body.items as { id: string }[] | undefined) ?? [])
        await call('POST', `/orchestrations/approvals/${item.id}/decision`, token, { decision: 'continue' }).catch(() => undefined);
      await sleep(300);
    }
  })();

  // chaos: worker kills, one API kill, one PostgreSQL restart
  const chaos = (async () => {
    const done: string[] = [];
    for (let round = 0; round < 6 && !stop; round++) {
      await sleep(4000);
      const i = round % workers.length;
      killed.add(workers[i].pid);
      await workers[i].kill();
      done.push(`kill -9 worker ${i}`);
      workers[i] = watch(await startWorkerProcess(url, env), 'worker');
      if (round === 2) {
        log('restarting PostgreSQL (fast shutdown, 3 s down)');
        await pg.stop();
        await sleep(3000);
        pg = await startEmbeddedPostgres({ dataDir, port: pgPort, persistent: true });
        done.push('PostgreSQL restart');
      }
      if (round === 4) {
        killed.add(api.pid);
        await api.kill();
        done.push('kill -9 API');
        api = watch(await startApiProcess(url, { ...env, PORT: port }), 'API');
      }
      log(done[done.length - 1]);
    }
    return done;
  })();

  const started: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const definition = DEFINITIONS[i % DEFINITIONS.length].slug;
    const res = await call('POST', '/orchestrations/runs', token, { definition, input: { i, items: [1, 2, 3] } });
    if (res.status === 201) started.push(String(res.body.id));
    await sleep(Math.max(50, 30_000 / RUNS));
  }
  log(`${started.length} runs started; waiting for chaos and runs to finish`);
  const faults = await chaos;

  ds = createDataSource(url, 2);
  await ds.initialize();
  // the runs started and the child runs of their sub-orchestrations, every level down
  const tree = async (): Promise<string[]> =>
    (
      (await ds.query(
        `WITH RECURSIVE t AS (SELECT id FROM orchestration_runs WHERE id = ANY($1)
           UNION ALL SELECT r.id FROM orchestration_runs r JOIN t ON r.parent_run_id = t.id)
         SELECT id::text AS id FROM t`,
        [started],
      )) as { id: string }[]
    ).map((r) => r.id);
  let runs: string[];
  const deadline = Date.now() + 180_000;
  let open = started.length;
  while (Date.now() < deadline) {
    runs = await tree();
    const [row] = await ds.query(
      `SELECT count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1) AND status NOT IN ('completed', 'failed', 'cancelled')`,
      [runs],
    );
    open = row.n;
    if (open === 0) break;
    await sleep(1000);
  }
  // let webhook deliveries and the SSE stream catch up
  runs = await tree();
  const events: { id: string }[] = await ds.query(`SELECT id::text AS id FROM orchestration_events WHERE run_id = ANY($1)`, [runs]);
  const settle = Date.now() + 60_000;
  while (Date.now() < settle) {
    const sseIds = new Set(sse.messages.map((m) => m.id));
    if (events.every((e) => receiver.received.has(e.id) && sseIds.has(e.id))) break;
    await sleep(1000);
  }
  stop = true;
  await bot;

  const statuses: { status: string; n: number }[] = await ds.query(
    `SELECT status, count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1) GROUP BY status ORDER BY status`,
    [runs],
  );
  const [{ n: reapplied }] = await ds.query(
    `SELECT count(*)::int AS n FROM (SELECT run_id, step_key FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.completed' GROUP BY run_id, step_key HAVING count(*) > 1) x`,
    [runs],
  );
  const [{ n: gaps }] = await ds.query(
    `SELECT count(*)::int AS n FROM (SELECT run_id FROM orchestration_events WHERE run_id = ANY($1) GROUP BY run_id HAVING max(seq) <> count(*) OR min(seq) <> 1) x`,
    [runs],
  );
  const sseIds = new Set(sse.messages.map((m) => m.id));
  const webhookMissing = events.filter((e) => !receiver.received.has(e.id)).length;
  const sseMissing = events.filter((e) => !sseIds.has(e.id)).length;
  const redelivered = [...receiver.received.values()].filter((n) => n > 1).length;
  const completed = statuses.find((s) => s.status === 'completed')?.n ?? 0;

  console.log('\nBaton chaos report');
  console.log(`  faults injected         ${faults.join(', ')}`);
  console.log(`  runs started            ${started.length} of ${RUNS} (${runs.length - started.length} child runs besides)`);
  console.log(`  runs by status          ${statuses.map((s) => `${s.status} ${s.n}`).join(', ')}${open ? `, still open ${open}` : ''}`);
  console.log(`  steps applied twice     ${reapplied}`);
  console.log(`  runs with a seq gap     ${gaps}`);
  console.log(`  events                  ${events.length}`);
  console.log(
    `  webhook: missing        ${webhookMissing} (received at least once: ${events.length - webhookMissing}, more than once: ${redelivered}, bad signatures: ${receiver.badSignatures})`,
  );
  console.log(`  SSE: missing            ${sseMissing} (reconnections: ${sse.opens - 1})`);
  console.log(`  processes crashed       ${crashes.length}${crashes.length ? `\n    ${crashes.join('\n    ')}` : ''}`);
  const ok =
    completed === runs.length &&
    started.length === RUNS &&
    reapplied === 0 &&
    gaps === 0 &&
    webhookMissing === 0 &&
    receiver.badSignatures === 0 &&
    sseMissing === 0;
  console.log(ok ? '  RESULT                  everything survived' : '  RESULT                  SOMETHING WAS LOST (see above)');

  stopping = true;
  sse.close();
  await ds.destroy();
  await Promise.all([...workers.map((w) => w.stop()), api.stop()]);
  await receiver.close();
  await pg.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(ok ? 0 : 1);
}

await main();
