/**
 * The agent registry end to end: validation (shape, the type's config schema, literal secrets) with JSON paths,
 * capability and type discovery with the built-ins, heartbeats, health from recent steps, disabling, tenancy and
 * roles (viewer reads, admin writes, operator heartbeats).
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AgentRunnerRegistry } from '#agents';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, TEST_ADMIN_URL_ENV, createTestOrganization, insertDefinition, testConfig, waitForRun, type TestOrganization } from '#testing';
import { ModeRunner } from './agents-test-runner.js';

describe('agent registry (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;

  let url: string;

  // A scratch database: other suites' workers share the test database and have no runner for this suite's test type.
  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `agents_registry_${process.pid}`);
    ds = createDataSource(url, 5);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(testConfig({ databaseUrl: url, pollIntervalMs: 200 }));
    await app.init();
    app.get(AgentRunnerRegistry).register(new ModeRunner());
    org = await createTestOrganization(app, ds, 'agents');
    other = await createTestOrganization(app, ds, 'agents-other');
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
    if (url) await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const http = () => request(app.getHttpServer());
  const as = (role: keyof TestOrganization['users'], o = org) => ({ Authorization: `Bearer ${o.users[role].token}` });
  const agent = (slug: string, extra: Record<string, unknown> = {}) => ({
    slug,
    name: `Agent ${slug}`,
    type: 'function',
    capabilities: ['translate'],
    config: { mode: 'ok' },
    ...extra,
  });

  it('creates, reads, replaces and disables an agent; viewers read, only admins write', async () => {
    await http().post('/agents').set(as('operator')).send(agent('writer-a')).expect(403);
    const created = await http().post('/agents').set(as('admin')).send(agent('writer-a', { description: 'first' })).expect(201);
    expect(created.body).toMatchObject({ slug: 'writer-a', type: 'function', capabilities: ['translate'], status: 'active', builtin: false, health: 'unknown', breaker: { state: 'closed' } });
    await http().post('/agents').set(as('admin')).send(agent('writer-a')).expect(409);

    const read = await http().get('/agents/writer-a').set(as('viewer')).expect(200);
    expect(read.body).toMatchObject({ slug: 'writer-a', description: 'first', stats: { sampleSize: 0, errorRate: null, running: 0, healthScore: 1 }, recentSteps: [] });

    await http().put('/agents/writer-a').set(as('viewer')).send(agent('writer-a')).expect(403);
    const replaced = await http().put('/agents/writer-a').set(as('admin')).send(agent('ignored', { capabilities: ['translate', 'summarize'] })).expect(200);
    expect(replaced.body).toMatchObject({ slug: 'writer-a', capabilities: ['translate', 'summarize'] });
    await http().put('/agents/nobody').set(as('admin')).send(agent('nobody')).expect(404);

    await http().delete('/agents/writer-a').set(as('operator')).expect(403);
    await http().delete('/agents/writer-a').set(as('admin')).expect(204);
    expect((await http().get('/agents/writer-a').set(as('viewer')).expect(200)).body).toMatchObject({ status: 'disabled', stats: { healthScore: 0 } });
    await http().put('/agents/writer-a').set(as('admin')).send(agent('writer-a', { status: 'active' })).expect(200);

    const audit = await ds.query(`SELECT action FROM audit_log WHERE organization_id = $1 AND target_type = 'agent' ORDER BY id`, [org.id]);
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['agent.created', 'agent.updated', 'agent.disabled', 'agent.updated']);

    // another organization sees none of it
    await http().get('/agents/writer-a').set(as('admin', other)).expect(404);
    await http().post('/agents').set(as('admin', other)).send(agent('writer-a')).expect(201);
  });

  it('answers 400 with a JSON path for every problem: shape, the type config schema, literal secrets', async () => {
    const bad = await http()
      .post('/agents')
      .set(as('admin'))
      .send({ slug: 'Bad Slug', name: '', type: 'robot', capabilities: ['ok', 'NOT OK'], config: { maxConcurrency: 0 }, extra: 1 })
      .expect(400);
    expect(bad.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    const paths = (bad.body.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['$.slug', '$.name', '$.type', '$.capabilities[1]', '$.config.maxConcurrency', '$.extra']));

    const schema = await http().post('/agents').set(as('admin')).send(agent('schema-a', { config: { mode: 'sometimes' } })).expect(400);
    expect(schema.body.details).toEqual([expect.objectContaining({ path: '$.config.mode', message: expect.stringContaining('ok, fail') })]);
    const missing = await http().post('/agents').set(as('admin')).send(agent('schema-b', { config: {} })).expect(400);
    expect(missing.body.details).toEqual([expect.objectContaining({ path: '$.config.mode' })]);

    // a type without a registered schema takes any config object (orchestrator has none here)
    await http().post('/agents').set(as('admin')).send(agent('free-a', { type: 'orchestrator', config: { anything: { goes: [1] } } })).expect(201);

    const secrets = await http()
      .post('/agents')
      .set(as('admin'))
      .send(
        agent('secret-a', {
          config: {
            mode: 'ok',
            apiKey: 'hunter2-hunter2',
            headers: { Authorization: 'Bearer abcdefghijklmnopqrstuvwxyz', 'x-ok': 'Bearer {{ env.N8N_TOKEN }}' },
            url: 'https://user:pw@example.com/hook',
            note: 'key sk-abcdefghijklmnopqrstu1234',
          },
        }),
      )
      .expect(400);
    expect((secrets.body.details as { path: string; code: string }[]).map((d) => [d.path, d.code]).sort()).toEqual(
      [
        ['$.config.apiKey', 'literal_secret'],
        ['$.config.headers.Authorization', 'literal_secret'],
        ['$.config.url', 'literal_secret'],
        ['$.config.note', 'literal_secret'],
      ].sort(),
    );
    expect(JSON.stringify(secrets.body)).not.toContain('hunter2');
    // naming the variable is the way
    await http()
      .post('/agents')
      .set(as('admin'))
      .send(agent('secret-b', { config: { mode: 'ok', apiKeyEnv: 'OPENAI_API_KEY', token: 'N8N_TOKEN', headers: { Authorization: 'Bearer {{ env.N8N_TOKEN }}' } } }))
      .expect(201);
    // built-in slugs are reserved
    const builtin = await http().post('/agents').set(as('admin')).send(agent('echo')).expect(400);
    expect(builtin.body.details).toEqual([expect.objectContaining({ path: '$.slug', code: 'builtin_agent' })]);
  });

  it('discovers agents by capability and type, with the built-ins listed as built-ins', async () => {
    const o = await createTestOrganization(app, ds, 'agents-disc');
    await http().post('/agents').set(as('admin', o)).send(agent('tr-1', { capabilities: ['translate', 'summarize'] })).expect(201);
    await http().post('/agents').set(as('admin', o)).send(agent('tr-2', { capabilities: ['translate'] })).expect(201);
    await http().post('/agents').set(as('admin', o)).send(agent('orc-1', { type: 'orchestrator', capabilities: ['plan'], config: {} })).expect(201);
    const slugs = async (query: string) => ((await http().get(`/agents${query}`).set(as('viewer', o)).expect(200)).body.items as { slug: string }[]).map((a) => a.slug);

    const all = (await http().get('/agents').set(as('viewer', o)).expect(200)).body.items as { slug: string; builtin: boolean; type: string }[];
    expect(all.map((a) => a.slug)).toEqual(['orc-1', 'tr-1', 'tr-2', 'echo', 'sleep', 'flaky', 'fail']);
    expect(all.filter((a) => a.builtin).every((a) => a.type === 'tool')).toBe(true);
    expect(await slugs('?capability=translate')).toEqual(['tr-1', 'tr-2']);
    expect(await slugs('?capability=summarize')).toEqual(['tr-1']);
    expect(await slugs('?capability=translate&type=orchestrator')).toEqual([]);
    expect(await slugs('?type=orchestrator')).toEqual(['orc-1']);
    expect(await slugs('?type=tool')).toEqual(['echo', 'sleep', 'flaky', 'fail']);
    await http().get('/agents?type=robot').set(as('viewer', o)).expect(400);
    const echo = await http().get('/agents/echo').set(as('viewer', o)).expect(200);
    expect(echo.body).toMatchObject({ slug: 'echo', builtin: true, type: 'tool', status: 'active' });
  });

  it('records heartbeats (operator or admin) and folds the reported health into the health score', async () => {
    await http().post('/agents').set(as('admin')).send(agent('beat-a')).expect(201);
    await http().post('/agents/beat-a/heartbeat').set(as('viewer')).send({}).expect(403);
    const before = Date.now();
    const beat = await http().post('/agents/beat-a/heartbeat').set(as('operator')).send({}).expect(200);
    expect(beat.body.health).toBe('healthy');
    expect(new Date(beat.body.lastHeartbeatAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    await http().post('/agents/beat-a/heartbeat').set(as('admin')).send({ health: 'degraded' }).expect(200);
    const detail = await http().get('/agents/beat-a').set(as('viewer')).expect(200);
    expect(detail.body).toMatchObject({ health: 'degraded', stats: { healthScore: 0.5 } });
    await http().post('/agents/beat-a/heartbeat').set(as('admin')).send({ health: 'asleep' }).expect(400);
    await http().post('/agents/nobody/heartbeat').set(as('admin')).send({}).expect(404);
  });

  it('shows recent steps, error rate and latency from the agent steps', async () => {
    await http().post('/agents').set(as('admin')).send(agent('stats-ok')).expect(201);
    await http().post('/agents').set(as('admin')).send(agent('stats-bad', { config: { mode: 'fail' } })).expect(201);
    await insertDefinition(ds, org.id, {
      slug: 'stats-flow',
      name: 'stats',
      steps: [
        { key: 'good', agent: 'stats-ok', input: { n: 1 } },
        { key: 'bad', agent: 'stats-bad', retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 } },
      ],
    });
    const run = await http().post('/orchestrations/runs').set(as('operator')).send({ definition: 'stats-flow', input: {} }).expect(201);
    await waitForRun(app, org.users.operator.token, run.body.id, ['failed']);

    const good = (await http().get('/agents/stats-ok').set(as('viewer')).expect(200)).body;
    expect(good.stats).toMatchObject({ sampleSize: 1, errorRate: 0, healthScore: 1 });
    expect(good.stats.avgLatencyMs).toEqual(expect.any(Number));
    expect(good.recentSteps).toEqual([expect.objectContaining({ runId: run.body.id, stepKey: 'good', status: 'completed', attempt: 1, errorCode: null })]);
    const bad = (await http().get('/agents/stats-bad').set(as('viewer')).expect(200)).body;
    expect(bad.stats).toMatchObject({ sampleSize: 1, errorRate: 1, healthScore: 0 });
    expect(bad.recentSteps).toEqual([expect.objectContaining({ stepKey: 'bad', status: 'failed', attempt: 2, errorCode: 'MODE_FAIL' })]);
  });
});
