/**
 * GET /metrics end to end: the scrape token on the API port (404 without one configured, 401 for a wrong one or
 * a user's JWT), the separate BATON_METRICS_PORT listener, Node default metrics, HTTP request metrics by route
 * template, and the scrape-time gauges against real rows (ready queue, runs in flight, pending approvals, dead
 * letters, stream subscribers, pools), all with bounded labels (no run ids).
 */
import type { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '#config';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { MetricsListener } from '../apps/api/src/metrics/metrics-listener.js';
import { BatonMetrics } from '#observability';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, createTestOrganization, freePort, insertDefinition, startWorkerProcess, testConfig, TEST_ADMIN_URL_ENV, waitFor, waitForRun, type TestOrganization } from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(60_000);

const TOKEN = 'scrape-token-0123456789abcdef';

/** The value of one sample in a Prometheus exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.startsWith(`${name}{`) ? line.slice(name.length + 1, line.indexOf('}')) : '';
    if (wanted.every((w) => labelText.split(',').includes(w)) && labelText.split(',').filter(Boolean).length === wanted.length) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('metrics (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let url: string;

  // A scratch database, so the gauges count only this suite's rows while other suites run.
  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `metrics_${process.pid}`);
    ds = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
    // Role api: no worker claims the rows the gauge test inserts by hand.
    app = await createApp(testConfig({ databaseUrl: url, role: 'api', metricsToken: TOKEN, metricsPort: 0 }));
    await app.init();
    org = await createTestOrganization(app, ds, 'metrics');
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const http = () => request(app.getHttpServer());
  const scrape = async () => (await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200)).text;

  it('serves /metrics on the API port only to the scrape token', async () => {
    expect((await http().get('/metrics').expect(401)).body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}x`).expect(401);
    await http().get('/metrics').set('Authorization', `Bearer ${org.users.admin.token}`).expect(401);
    const res = await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('# HELP nodejs_eventloop_lag_seconds');
    expect(res.text).toContain('# HELP process_resident_memory_bytes');
  });

  it('answers 404 on the API port when no scrape token is configured', async () => {
    const other = await createApp(testConfig({ databaseUrl: url }));
    await other.init();
    try {
      const res = await request(other.getHttpServer()).get('/metrics').expect(404);
      expect(res.body.message).toContain('BATON_METRICS_PORT');
    } finally {
      await other.close();
    }
  });

  it('serves the same registry without a token on the BATON_METRICS_PORT listener, and nothing else there', async () => {
    const port = app.get(MetricsListener).port as number;
    expect(port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('# HELP baton_ready_steps');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('counts HTTP requests by route template, never by raw path', async () => {
    const runId = '00000000-0000-4000-8000-000000000001';
    await http().get(`/orchestrations/runs/${runId}`).set('Authorization', `Bearer ${org.users.viewer.token}`).expect(404);
    const text = await scrape();
    expect(sample(text, 'baton_http_requests_total', { method: 'GET', route: '/orchestrations/runs/:id', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(runId);
    expect(sample(text, 'baton_http_request_duration_seconds_count', { method: 'GET', route: '/orchestrations/runs/:id' })).toBeGreaterThanOrEqual(1);
  });

  it('computes the queue, run, approval and webhook gauges from the database at scrape time', async () => {
    // Rows as the engine would leave them, in a definition whose agent no worker serves: a run with one due
    // ready step, one in backoff, and a pending approval; a dead webhook delivery.
    const definitionId = await insertDefinition(ds, org.id, { slug: 'gauged', name: 'gauged', steps: [{ key: 'a', agent: 'metrics-probe-agent', input: {} }] });
    const [run] = await ds.query(
      `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, status, input)
       VALUES ($1, $2, 'gauged', 1, 'running', '{}') RETURNING id`,
      [org.id, definitionId],
    );
    const before = await scrape();
    expect(sample(before, 'baton_ready_steps', { agent: 'metrics-probe-agent' })).toBeUndefined();
    expect(sample(before, 'baton_oldest_ready_step_age_seconds')).toBe(0);
    await ds.query(
      `INSERT INTO orchestration_steps (run_id, organization_id, step_key, position, agent_slug, status, next_attempt_at)
       VALUES ($1, $2, 'a', 0, 'metrics-probe-agent', 'ready', now() - interval '90 seconds'),
              ($1, $2, 'b', 1, 'metrics-probe-agent', 'ready', now() + interval '1 hour'),
              ($1, $2, 'c', 2, 'metrics-probe-agent', 'awaiting_approval', NULL)`,
      [run.id, org.id],
    );
    const [gate] = await ds.query(`SELECT id FROM orchestration_steps WHERE run_id = $1 AND step_key = 'c'`, [run.id]);
    await ds.query(`INSERT INTO human_approvals (organization_id, run_id, step_id, step_key, prompt, requested_at) VALUES ($1, $2, $3, 'c', 'ok?', now() - interval '1 hour')`, [
      org.id,
      run.id,
      gate.id,
    ]);
    const [event] = await ds.query(`INSERT INTO orchestration_events (organization_id, run_id, seq, type) VALUES ($1, $2, 1, 'run.started') RETURNING id`, [org.id, run.id]);
    const [sub] = await ds.query(`INSERT INTO webhook_subscriptions (organization_id, url, secret_encrypted, active) VALUES ($1, 'https://example.com/h', 'x', false) RETURNING id`, [org.id]);
    await ds.query(`INSERT INTO webhook_deliveries (organization_id, subscription_id, event_id, event_type, status, dead_at) VALUES ($1, $2, $3, 'run.started', 'dead', now())`, [
      org.id,
      sub.id,
      event.id,
    ]);

    const text = await scrape();
    expect(sample(text, 'baton_ready_steps', { agent: 'metrics-probe-agent' })).toBe(1);
    expect(sample(text, 'baton_retrying_steps', { agent: 'metrics-probe-agent' })).toBe(1);
    expect(sample(text, 'baton_oldest_ready_step_age_seconds')).toBeGreaterThanOrEqual(89);
    expect(sample(text, 'baton_runs_in_flight', { status: 'running' })).toBe(1);
    expect(sample(text, 'baton_pending_approvals')).toBe(1);
    expect(sample(text, 'baton_oldest_pending_approval_age_seconds')).toBeGreaterThanOrEqual(3599);
    expect(sample(text, 'baton_webhook_dead_letters')).toBe(1);
    expect(sample(text, 'baton_webhook_deliveries', { status: 'dead' })).toBe(1);
    expect(sample(text, 'baton_db_pool_connections', { pool: 'typeorm', state: 'total' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'baton_db_pool_connections', { pool: 'engine', state: 'total' })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'baton_stream_subscribers', { transport: 'sse' })).toBe(0);
    expect(sample(text, 'baton_event_tail_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'baton_runs_in_flight', { status: 'pending' })).toBe(0);
    expect(text).not.toContain(run.id);
  });

  it('counts an open SSE stream while it is open', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = app.getHttpServer();
      if (server.listening) resolve(server.address().port);
      else server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    });
    const controller = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/orchestrations/stream`, { headers: { Authorization: `Bearer ${org.users.viewer.token}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    await waitFor(async () => (sample(await scrape(), 'baton_stream_subscribers', { transport: 'sse' }) ?? 0) >= 1);
    controller.abort();
    await waitFor(async () => sample(await scrape(), 'baton_stream_subscribers', { transport: 'sse' }) === 0);
  });

  it('registers the domain metrics other modules feed, with HELP text and bounded labels', async () => {
    const metrics = app.get(BatonMetrics);
    metrics.stepFinished('echo', 'completed', 120);
    metrics.dispatchLatency(15);
    metrics.breakerTransition('flaky-api', 'open');
    metrics.llmUsage({ agent: 'writer', model: 'gpt-test', inputTokens: 10, outputTokens: 5, costUsd: 0.002 });
    metrics.runStarted('gauged');
    metrics.runFinished('gauged', 'completed');
    metrics.webhookAttempt('delivered');
    const text = await scrape();
    for (const name of ['baton_steps_finished_total', 'baton_step_duration_seconds', 'baton_dispatch_latency_seconds', 'baton_agent_breaker_state', 'baton_agent_breaker_transitions_total', 'baton_llm_tokens_total', 'baton_llm_cost_usd_total', 'baton_runs_started_total', 'baton_runs_finished_total', 'baton_webhook_delivery_attempts_total'])
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
    expect(sample(text, 'baton_steps_finished_total', { agent: 'echo', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'baton_agent_breaker_transitions_total', { agent: 'flaky-api', to: 'open' })).toBe(1);
    expect(sample(text, 'baton_llm_tokens_total', { agent: 'writer', model: 'gpt-test', type: 'output' })).toBe(5);
    expect(sample(text, 'baton_dispatch_latency_seconds_count')).toBe(1);
    // docs/observability.md lists every metric; each one is registered with its HELP text.
    const documented = [...readFileSync(join(projectRoot(), 'docs/observability.md'), 'utf8').matchAll(/^\| `(baton_[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((name) => !text.includes(`# HELP ${name} `))).toEqual([]);
  });

  it('a worker-only process serves its metrics on BATON_METRICS_PORT', async () => {
    const port = await freePort();
    const worker = await startWorkerProcess(url, { BATON_METRICS_PORT: String(port) });
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(sample(text, 'baton_db_pool_connections', { pool: 'worker', state: 'total' })).toBeGreaterThanOrEqual(0);
      expect(text).toContain('# HELP baton_ready_steps');
      // Workers run no event tail: no lag is reported rather than a made-up zero.
      expect(sample(text, 'baton_event_tail_lag_seconds')).toBeUndefined();
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  });
});

/**
 * The engine-fed metrics, from the committed events of real runs on a worker of this process: runs by definition and
 * outcome, step attempts by agent and outcome with their durations, dispatch latency, LLM tokens by agent and model,
 * breaker transitions and the breaker state gauge, webhook delivery attempts. A scratch database of its own, so no
 * other suite's worker takes these steps (their counters would move in that process instead).
 */
describe('engine metrics (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let url: string;
  let hooks: Server;
  let hookUrl: string;
  let deadPort: number;

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `metrics_flow_${process.pid}`);
    ds = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(
      testConfig({ databaseUrl: url, role: 'all', metricsToken: TOKEN, pollIntervalMs: 100, breakerFailures: 2, breakerWindowMs: 60_000, breakerCooldownMs: 600_000 }),
    );
    await app.init();
    org = await createTestOrganization(app, ds, 'metrics-flow');
    // The webhook receiver, and the stand-in for an OpenAI-compatible LLM API (usage reported, so it is priced).
    hooks = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (!req.url?.endsWith('/chat/completions')) return res.end('ok');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ model: 'gpt-4o-mini', choices: [{ message: { content: 'done' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1000, completion_tokens: 200 } }));
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
    deadPort = await freePort(); // nothing listens there: the api agent's calls are refused
  });

  afterAll(async () => {
    await app?.close();
    await new Promise((resolve) => hooks?.close(resolve));
    await ds?.destroy();
    if (url) await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const http = () => request(app.getHttpServer());
  const as = (role: keyof TestOrganization['users']) => ({ Authorization: `Bearer ${org.users[role].token}` });
  const scrape = async () => (await http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200)).text;
  const start = async (definition: string) => (await http().post('/orchestrations/runs').set(as('operator')).send({ definition, input: {} }).expect(201)).body.id as string;
  const fast = { initialDelayMs: 10, maxDelayMs: 20, jitter: false };

  it('counts runs, step attempts, durations, dispatch latency, tokens, breakers and webhook attempts of real runs', async () => {
    await http().post('/webhooks').set(as('admin')).send({ url: hookUrl, eventTypes: ['run.completed'] }).expect(201);
    await http().post('/agents').set(as('admin')).send({ slug: 'writer', name: 'writer', type: 'context', config: { provider: 'local' } }).expect(201);
    process.env.TEST_METRICS_LLM_KEY = 'sk-metrics-test-key';
    const llm = { provider: 'openai', baseUrl: hookUrl.replace('/hook', '/v1'), apiKeyEnv: 'TEST_METRICS_LLM_KEY', model: 'gpt-4o-mini', stream: false };
    await http().post('/agents').set(as('admin')).send({ slug: 'priced', name: 'priced', type: 'context', config: llm }).expect(201);
    await http()
      .post('/agents')
      .set(as('admin'))
      .send({ slug: 'down-api', name: 'down-api', type: 'api', config: { method: 'POST', url: `http://127.0.0.1:${deadPort}/x`, timeoutMs: 2000 } })
      .expect(201);
    await insertDefinition(ds, org.id, {
      slug: 'flow-ok',
      name: 'flow-ok',
      steps: [
        { key: 'a', agent: 'echo', input: { text: 'Baton keeps runs durable. Workers claim steps.' } },
        { key: 'b', agent: 'flaky', dependsOn: ['a'], retry: { maxAttempts: 2, ...fast }, input: { failTimes: 1 } },
        { key: 'c', agent: 'writer', dependsOn: ['a'], input: { text: '{{ steps.a.output.text }}' } },
        { key: 'd', agent: 'priced', dependsOn: ['a'], input: { text: '{{ steps.a.output.text }}' } },
      ],
    });
    await insertDefinition(ds, org.id, { slug: 'flow-fail', name: 'flow-fail', steps: [{ key: 'x', agent: 'fail', input: {} }] });
    await insertDefinition(ds, org.id, { slug: 'flow-breaker', name: 'flow-breaker', steps: [{ key: 'x', agent: 'down-api', retry: { maxAttempts: 3, ...fast }, input: {} }] });
    await insertDefinition(ds, org.id, { slug: 'flow-cancel', name: 'flow-cancel', steps: [{ key: 'nap', agent: 'sleep', input: { ms: 60_000 } }] });

    const ok = await start('flow-ok');
    const failed = await start('flow-fail');
    const broken = await start('flow-breaker');
    const napping = await start('flow-cancel');
    await waitForRun(app, org.users.operator.token, ok, ['completed']);
    await waitForRun(app, org.users.operator.token, failed, ['failed']);
    await waitForRun(app, org.users.operator.token, broken, ['failed']);
    await waitFor(async () => (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND status = 'running'`, [napping])).length > 0);
    await http().post(`/orchestrations/runs/${napping}/cancel`).set(as('operator')).send({}).expect(200);
    await waitForRun(app, org.users.operator.token, napping, ['cancelled']);

    const text = await waitFor(async () => {
      const t = await scrape();
      return (sample(t, 'baton_webhook_delivery_attempts_total', { result: 'delivered' }) ?? 0) >= 1 && t;
    });
    const runs = (definition: string, outcome: string) => sample(text, 'baton_runs_finished_total', { definition, outcome });
    expect(sample(text, 'baton_runs_started_total', { definition: 'flow-ok' })).toBe(1);
    expect(runs('flow-ok', 'completed')).toBe(1);
    expect(runs('flow-fail', 'failed')).toBe(1);
    expect(runs('flow-breaker', 'failed')).toBe(1);
    expect(runs('flow-cancel', 'cancelled')).toBe(1);
    expect(runs('flow-ok', 'failed')).toBeUndefined();

    const steps = (agent: string, outcome: string) => sample(text, 'baton_steps_finished_total', { agent, outcome });
    expect(steps('echo', 'completed')).toBe(1);
    expect(steps('flaky', 'retrying')).toBe(1);
    expect(steps('flaky', 'completed')).toBe(1);
    expect(steps('writer', 'completed')).toBe(1);
    expect(steps('fail', 'failed')).toBe(1);
    // two refused calls open the breaker (2 failures); the third attempt is not made: CIRCUIT_OPEN, the step fails
    expect(steps('down-api', 'retrying')).toBe(2);
    expect(steps('down-api', 'failed')).toBe(1);
    expect(steps('sleep', 'cancelled')).toBe(1);
    expect(sample(text, 'baton_step_duration_seconds_count', { agent: 'flaky', outcome: 'retrying' })).toBe(1);
    expect(sample(text, 'baton_step_duration_seconds_count', { agent: 'echo', outcome: 'completed' })).toBe(1);
    // one start per attempt: a, b twice, c, d, fail's x, down-api's x three times, nap
    expect(sample(text, 'baton_dispatch_latency_seconds_count')).toBe(10);

    expect(sample(text, 'baton_llm_tokens_total', { agent: 'writer', model: 'local', type: 'input' })).toBeGreaterThan(0);
    expect(sample(text, 'baton_llm_tokens_total', { agent: 'writer', model: 'local', type: 'output' })).toBeGreaterThan(0);
    expect(sample(text, 'baton_llm_tokens_total', { agent: 'priced', model: 'gpt-4o-mini', type: 'input' })).toBe(1000);
    expect(sample(text, 'baton_llm_tokens_total', { agent: 'priced', model: 'gpt-4o-mini', type: 'output' })).toBe(200);
    // 1000 input tokens at 0.15 USD and 200 output tokens at 0.60 USD per million (the built-in price list)
    expect(sample(text, 'baton_llm_cost_usd_total', { agent: 'priced', model: 'gpt-4o-mini' })).toBeCloseTo(0.00027, 8);
    expect(sample(text, 'baton_llm_cost_usd_total', { agent: 'writer', model: 'local' })).toBeUndefined();

    expect(sample(text, 'baton_agent_breaker_transitions_total', { agent: 'down-api', to: 'open' })).toBe(1);
    expect(sample(text, 'baton_agent_breaker_state', { agent: 'down-api' })).toBe(2);
    expect(sample(text, 'baton_agent_breaker_state', { agent: 'writer' })).toBe(0);

    for (const id of [ok, failed, broken, napping]) expect(text).not.toContain(id);
    expect(text).not.toContain(org.id);

    // The same committed events, one structured log line per transition (pino levels: 20 debug, 30 info, 40 warn).
  });
});
