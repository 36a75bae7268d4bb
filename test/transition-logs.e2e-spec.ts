/**
 * One structured log line per committed engine transition, with run id, step key, attempt, organization,
 * definition, agent, outcome, duration and error code, at the level the transition deserves; step data never
 * logged. Its own suite: nestjs-pino keeps one root logger per process (the first application's), so the capturing
 * application must be the first this process creates. A scratch database, so no other suite's worker runs the steps.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import {
  createScratchDatabase,
  createTestOrganization,
  freePort,
  insertDefinition,
  testConfig,
  TEST_ADMIN_URL_ENV,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(60_000);

describe('engine transition logs (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let url: string;
  const lines: string[] = [];

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `transition_logs_${process.pid}`);
    ds = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(
      testConfig({
        databaseUrl: url,
        role: 'all',
        logLevel: 'debug',
        pollIntervalMs: 100,
        breakerFailures: 2,
        breakerWindowMs: 60_000,
        breakerCooldownMs: 600_000,
      }),
      {
        logging: { destination: { write: (line: string) => void lines.push(line) } },
      },
    );
    await app.init();
    org = await createTestOrganization(app, ds, 'transition-logs');
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
    if (url) await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const http = () => request(app.getHttpServer());
  const as = (role: keyof TestOrganization['users']) => ({ Authorization: `Bearer ${org.users[role].token}` });
  const start = async (definition: string) =>
    (await http().post('/orchestrations/runs').set(as('operator')).send({ definition, input: {} }).expect(201)).body.id as string;
  const fast = { initialDelayMs: 10, maxDelayMs: 20, jitter: false };

  it('writes one line per transition that matters, with the run, step, attempt and organization, at its level', async () => {
    const deadPort = await freePort();
    await http()
      .post('/agents')
      .set(as('admin'))
      .send({
        slug: 'down-api',
        name: 'down-api',
        type: 'api',
        config: { method: 'POST', url: `http://127.0.0.1:${deadPort}/x`, timeoutMs: 2000 },
      })
      .expect(201);
    await insertDefinition(ds, org.id, {
      slug: 'logged-ok',
      name: 'logged-ok',
      steps: [
        { key: 'a', agent: 'echo', input: { text: 'a private sentence of step data' } },
        { key: 'b', agent: 'flaky', dependsOn: ['a'], retry: { maxAttempts: 2, ...fast }, input: { failTimes: 1 } },
      ],
    });
    await insertDefinition(ds, org.id, { slug: 'logged-fail', name: 'logged-fail', steps: [{ key: 'x', agent: 'fail', input: {} }] });
    await insertDefinition(ds, org.id, {
      slug: 'logged-breaker',
      name: 'logged-breaker',
      steps: [{ key: 'x', agent: 'down-api', retry: { maxAttempts: 3, ...fast }, input: {} }],
    });
    await insertDefinition(ds, org.id, {
      slug: 'logged-cancel',
      name: 'logged-cancel',
      steps: [{ key: 'nap', agent: 'sleep', input: { ms: 60_000 } }],
    });
    const ok = await start('logged-ok');
    const failed = await start('logged-fail');
    const broken = await start('logged-breaker');
    const napping = await start('logged-cancel');
    await waitForRun(app, org.users.operator.token, ok, ['completed']);
    await waitForRun(app, org.users.operator.token, failed, ['failed']);
    await waitForRun(app, org.users.operator.token, broken, ['failed']);
    await waitFor(
      async () => (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND status = 'running'`, [napping])).length > 0,
    );
    await http().post(`/orchestrations/runs/${napping}/cancel`).set(as('operator')).send({}).expect(200);
    await waitForRun(app, org.users.operator.token, napping, ['cancelled']);

    // pino levels: 20 debug, 30 info, 40 warn
    const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.context === 'EngineTransition');
    const line = (event: string, runId: string, extra: Record<string, unknown> = {}) =>
      logged().find((l) => l.event === event && l.runId === runId && Object.entries(extra).every(([k, v]) => l[k] === v));
    await waitFor(async () => line('run.cancelled', napping));
    // A run started by a request: its creation line carries the request's id, like every line written inside it.
    expect(line('run.created', ok)).toMatchObject({
      level: 30,
      organizationId: org.id,
      definition: 'logged-ok',
      requestId: expect.any(String),
    });
    expect(line('step.started', ok, { stepKey: 'b', attempt: 1 })).toMatchObject({
      level: 20,
      agent: 'flaky',
      dispatchMs: expect.any(Number),
    });
    expect(line('step.retrying', ok, { stepKey: 'b' })).toMatchObject({
      level: 30,
      attempt: 1,
      outcome: 'retrying',
      errorCode: 'FLAKY',
      retryable: true,
      durationMs: expect.any(Number),
    });
    expect(line('step.completed', ok, { stepKey: 'b' })).toMatchObject({
      level: 20,
      attempt: 2,
      outcome: 'completed',
      agent: 'flaky',
      organizationId: org.id,
    });
    expect(line('run.completed', ok)).toMatchObject({ level: 30, organizationId: org.id, msg: `run.completed logged-ok run ${ok}` });
    expect(line('step.failed', failed, { stepKey: 'x' })).toMatchObject({
      level: 40,
      attempt: 1,
      outcome: 'failed',
      errorCode: 'FAIL',
      retryable: false,
      agent: 'fail',
    });
    expect(line('run.failed', failed)).toMatchObject({ level: 40 });
    expect(line('agent.breaker_opened', broken)).toMatchObject({ level: 40, agent: 'down-api', stepKey: 'x' });
    expect(line('step.cancelled', napping, { stepKey: 'nap' })).toMatchObject({ outcome: 'cancelled', agent: 'sleep' });
    expect(line('run.cancelled', napping)).toMatchObject({ level: 30 });
    // Step data never reaches the log.
    expect(logged().some((l) => JSON.stringify(l).includes('a private sentence'))).toBe(false);
  });
});
