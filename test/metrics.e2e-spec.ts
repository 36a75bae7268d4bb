/**
 * GET /metrics end to end: the scrape token on the API port (404 without one configured, 401 for a wrong one or
 * a user's JWT), the separate BATON_METRICS_PORT listener, Node default metrics, HTTP request metrics by route
 * template, and the scrape-time gauges against real rows (ready queue, runs in flight, pending approvals, dead
 * letters, stream subscribers, pools), all with bounded labels (no run ids).
 */
import type { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#config';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { MetricsListener } from '../apps/api/src/metrics/metrics-listener.js';
import { BatonMetrics } from '#observability';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, createTestOrganization, freePort, insertDefinition, startWorkerProcess, testConfig, TEST_ADMIN_URL_ENV, waitFor, type TestOrganization } from '#testing';
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
    metrics.breakerState('flaky-api', 'open');
    metrics.llmUsage({ agent: 'writer', model: 'gpt-test', inputTokens: 10, outputTokens: 5, costUsd: 0.002 });
    metrics.runStarted('gauged');
    metrics.runFinished('gauged', 'completed');
    metrics.webhookAttempt('delivered');
    const text = await scrape();
    for (const name of ['baton_steps_finished_total', 'baton_step_duration_seconds', 'baton_dispatch_latency_seconds', 'baton_agent_breaker_state', 'baton_llm_tokens_total', 'baton_llm_cost_usd_total', 'baton_runs_started_total', 'baton_runs_finished_total', 'baton_webhook_delivery_attempts_total'])
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
    expect(sample(text, 'baton_steps_finished_total', { agent: 'echo', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'baton_agent_breaker_state', { agent: 'flaky-api' })).toBe(2);
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
