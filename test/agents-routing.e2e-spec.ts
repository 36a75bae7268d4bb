/**
 * Capability routing and circuit breakers end to end, with a deterministic test runner for type `function`:
 * routing to the healthiest, least-loaded agent (maxConcurrency respected, the choice on the step and its event),
 * unknown capabilities refused when a definition is saved; a breaker that opens after repeated failures, the
 * fallback to another agent with the same capability, an open breaker that stops calls, the half-open trial
 * that closes it, and the agent.breaker_* events on the runs whose steps caused them.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AgentRunnerRegistry } from '#agents';
import type { DefinitionSpec } from '#core';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, TEST_ADMIN_URL_ENV, createTestOrganization, insertDefinition, testConfig, waitFor, waitForRun, type TestOrganization } from '#testing';
import { ModeRunner } from './agents-test-runner.js';

const COOLDOWN_MS = 3000;

interface EventRow {
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
}

describe('capability routing and circuit breakers (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  const runner = new ModeRunner();

  let url: string;

  // A scratch database: other suites' workers share the test database and have no runner for this suite's test type.
  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `agents_routing_${process.pid}`);
    ds = createDataSource(url, 5);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(testConfig({ databaseUrl: url, pollIntervalMs: 100, breakerFailures: 2, breakerWindowMs: 60_000, breakerCooldownMs: COOLDOWN_MS }));
    await app.init();
    app.get(AgentRunnerRegistry).register(runner);
    org = await createTestOrganization(app, ds, 'routing');
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
    if (url) await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const http = () => request(app.getHttpServer());
  const as = (role: keyof TestOrganization['users']) => ({ Authorization: `Bearer ${org.users[role].token}` });
  const register = async (slug: string, capabilities: string[], config: Record<string, unknown> = { mode: 'ok' }) =>
    http().post('/agents').set(as('admin')).send({ slug, name: slug, type: 'function', capabilities, config }).expect(201);
  let n = 0;
  const define = async (steps: DefinitionSpec['steps']) => {
    const slug = `route-${++n}`;
    await insertDefinition(ds, org.id, { slug, name: slug, steps });
    return slug;
  };
  const start = async (definition: string) => (await http().post('/orchestrations/runs').set(as('operator')).send({ definition, input: {} }).expect(201)).body.id as string;
  const events = async (runId: string) => (await http().get(`/orchestrations/runs/${runId}/events`).set(as('viewer')).expect(200)).body.items as EventRow[];

  it('routes a capability step to the healthiest active agent and records the choice', async () => {
    await register('tr-degraded', ['translate']);
    await register('tr-healthy', ['translate']);
    await register('tr-unhealthy', ['translate']);
    await register('tr-disabled', ['translate']);
    await http().post('/agents/tr-degraded/heartbeat').set(as('operator')).send({ health: 'degraded' }).expect(200);
    await http().post('/agents/tr-unhealthy/heartbeat').set(as('operator')).send({ health: 'unhealthy' }).expect(200);
    await http().delete('/agents/tr-disabled').set(as('admin')).expect(204);
    const slug = await define([{ key: 'say', capability: 'translate', input: { text: 'hola' } }]);
    const run = await waitForRun(app, org.users.operator.token, await start(slug), ['completed']);
    expect(run.output).toEqual({ say: { by: 'tr-healthy', input: { text: 'hola' } } });
    expect((run.steps as unknown as { key: string; agent: string }[]).find((s) => s.key === 'say')?.agent).toBe('tr-healthy');
    const started = (await events(run.id)).find((e) => e.type === 'step.started');
    expect(started?.payload).toMatchObject({ agent: 'tr-healthy', routedBy: { capability: 'translate' } });
  });

  it('spreads capability steps over the least-loaded agents within their maxConcurrency', async () => {
    await register('load-a', ['load'], { mode: 'ok', sleepMs: 300, maxConcurrency: 1 });
    await register('load-b', ['load'], { mode: 'ok', sleepMs: 300, maxConcurrency: 1 });
    const slug = await define([1, 2, 3, 4].map((i) => ({ key: `s${i}`, capability: 'load', input: { i } })));
    const run = await waitForRun(app, org.users.operator.token, await start(slug), ['completed'], 30_000);
    const by = Object.values(run.output as Record<string, { by: string }>).map((o) => o.by);
    expect(by.filter((b) => b === 'load-a').length).toBe(2);
    expect(by.filter((b) => b === 'load-b').length).toBe(2);
    expect(runner.maxRunning.get('load-a')).toBe(1);
    expect(runner.maxRunning.get('load-b')).toBe(1);
  });

  it('refuses a definition naming a capability no active agent has, and fails a step that finds no agent', async () => {
    const bad = await http()
      .post('/orchestrations/definitions')
      .set(as('admin'))
      .send({ slug: 'route-unknown-cap', name: 'x', steps: [{ key: 'a', capability: 'teleport' }] })
      .expect(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ path: '$.steps[0].capability', code: 'unknown_capability' })]);
    await register('gone-1', ['vanishing']);
    await http()
      .post('/orchestrations/definitions')
      .set(as('admin'))
      .send({ slug: 'route-vanishing', name: 'x', steps: [{ key: 'a', capability: 'vanishing', retry: { maxAttempts: 1 } }] })
      .expect(201);
    await http().delete('/agents/gone-1').set(as('admin')).expect(204);
    const run = await waitForRun(app, org.users.operator.token, await start('route-vanishing'), ['failed']);
    expect(run.steps?.[0].error).toMatchObject({ code: 'NO_AGENT_AVAILABLE', retryable: true });
  });

  it('opens a breaker after repeated failures, falls back to an agent with the same capability, blocks calls while open, closes after a good trial', async () => {
    await register('brk-bad', ['summarize-x'], { mode: 'fail' });
    await register('brk-good', ['summarize-x'], { mode: 'ok' });
    const retry = { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 50 };

    // 1. two failures open brk-bad's breaker; the third attempt runs on brk-good
    const withFallback = await define([{ key: 'sum', agent: 'brk-bad', fallback: 'capability', retry, input: { doc: 1 } }]);
    const first = await waitForRun(app, org.users.operator.token, await start(withFallback), ['completed']);
    expect(first.output).toEqual({ sum: { by: 'brk-good', input: { doc: 1 } } });
    expect(runner.calls.get('brk-bad')).toBe(2);
    const log = await events(first.id);
    const types = log.map((e) => e.type);
    expect(types.filter((t) => t === 'step.retrying')).toHaveLength(2);
    const opened = log.find((e) => e.type === 'agent.breaker_opened');
    expect(opened).toMatchObject({ stepKey: 'sum', payload: { agent: 'brk-bad', from: 'closed', to: 'open' } });
    expect(types.indexOf('agent.breaker_opened')).toBeLessThan(types.lastIndexOf('step.started'));
    expect(log.filter((e) => e.type === 'step.started').pop()?.payload).toMatchObject({
      attempt: 3,
      agent: 'brk-good',
      routedBy: { fallback: 'capability', from: 'brk-bad', reason: 'breaker_open' },
    });
    const shown = await http().get('/agents/brk-bad').set(as('viewer')).expect(200);
    expect(shown.body.breaker.state).toBe('open');
    expect(shown.body.stats.healthScore).toBe(0);

    // 2. without a fallback the step is not sent to the open agent: it fails fast and waits for its retry
    const noFallback = await define([{ key: 'sum', agent: 'brk-bad', retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 50 } }]);
    const blocked = await waitForRun(app, org.users.operator.token, await start(noFallback), ['failed']);
    expect(blocked.steps?.[0].error).toMatchObject({ code: 'CIRCUIT_OPEN', retryable: true });
    expect((await events(blocked.id)).find((e) => e.type === 'step.retrying')?.payload).toMatchObject({ error: { code: 'CIRCUIT_OPEN' } });
    expect(runner.calls.get('brk-bad')).toBe(2);

    // 3. after the cool-down it shows half-open; a good trial call closes it, logged on the trial's run
    runner.healed.add('brk-bad');
    await waitFor(async () => (await http().get('/agents/brk-bad').set(as('viewer'))).body.breaker.state === 'half_open', COOLDOWN_MS + 5000, 'half-open');
    const trial = await waitForRun(app, org.users.operator.token, await start(noFallback), ['completed']);
    expect(trial.output).toEqual({ sum: { by: 'brk-bad', input: null } });
    const trialLog = (await events(trial.id)).filter((e) => e.type.startsWith('agent.'));
    expect(trialLog.map((e) => [e.type, e.payload])).toEqual([
      ['agent.breaker_half_opened', { agent: 'brk-bad', from: 'open', to: 'half_open' }],
      ['agent.breaker_closed', { agent: 'brk-bad', from: 'half_open', to: 'closed' }],
    ]);
    expect((await http().get('/agents/brk-bad').set(as('viewer')).expect(200)).body.breaker.state).toBe('closed');
    // the organization history has each breaker event once
    const [{ count }] = await ds.query(`SELECT count(*)::int AS count FROM orchestration_events WHERE organization_id = $1 AND type LIKE 'agent.breaker_%'`, [org.id]);
    expect(count).toBe(3);
  });

  it('falls back to the first healthy agent of fallbackAgents while the breaker is open', async () => {
    await register('fa-bad', ['fa'], { mode: 'fail' });
    await register('fa-second', [], { mode: 'ok' });
    await register('fa-third', [], { mode: 'ok' });
    const slug = await define([{ key: 'x', agent: 'fa-bad', fallbackAgents: ['fa-second', 'fa-third'], retry: { maxAttempts: 4, initialDelayMs: 50, maxDelayMs: 50 } }]);
    const run = await waitForRun(app, org.users.operator.token, await start(slug), ['completed']);
    expect(run.output).toEqual({ x: { by: 'fa-second', input: null } });
    const started = (await events(run.id)).filter((e) => e.type === 'step.started').pop();
    expect(started?.payload).toMatchObject({ agent: 'fa-second', routedBy: { fallbackAgents: ['fa-second', 'fa-third'], from: 'fa-bad' } });
  });
});
