import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AgentRunnerRegistry } from '#agents';
import type { DefinitionSpec } from '#core';
import { RunStarter, TaskStatusService } from '#engine';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, insertDefinition, testConfig, waitForRun, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

describe('durable engine (e2e, one process)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;

  let scratch: ScratchApp;

  beforeAll(async () => {
    scratch = await openScratchApp('engine', {});
    ({ app, org } = scratch);
    ds = scratch.scratch.dataSource;
    other = await scratch.organization('engine-other');
  });

  afterAll(async () => {
    await scratch?.close();
  });

  const http = () => request(app.getHttpServer());
  const auth = (token = org.users.operator.token) => ({ Authorization: `Bearer ${token}` });
  let counter = 0;
  const define = async (spec: Omit<DefinitionSpec, 'slug' | 'name'>): Promise<string> => {
    const slug = `def-${++counter}-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, { slug, name: slug, ...spec });
    return slug;
  };
  const start = async (definition: string, input: unknown = {}, extra: Record<string, unknown> = {}) => {
    const res = await http().post('/orchestrations/runs').set(auth()).send({ definition, input, ...extra }).expect(201);
    return res.body.id as string;
  };
  const events = async (runId: string) => (await http().get(`/orchestrations/runs/${runId}/events`).set(auth()).expect(200)).body.items as {
    id: string;
    seq: number;
    type: string;
    stepKey: string | null;
    payload: Record<string, unknown>;
  }[];

  it('runs a linear chain, passing outputs through templates', async () => {
    const slug = await define({
      input: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } },
      steps: [
        { key: 'a', agent: 'echo', input: { x: '{{ input.x }}' } },
        { key: 'b', agent: 'echo', dependsOn: ['a'], input: { prev: '{{ steps.a.output.x }}', whole: '{{ steps.a.output }}' } },
        { key: 'c', agent: 'echo', dependsOn: ['b'], input: { msg: 'value={{ steps.b.output.prev }}' } },
      ],
    });
    const run = await waitForRun(app, org.users.operator.token, await start(slug, { x: 5 }), ['completed']);
    expect(run.output).toEqual({ c: { msg: 'value=5' } });
    const b = run.steps?.find((s) => s.key === 'b');
    expect(b?.input).toEqual({ prev: 5, whole: { x: 5 } });
  });

  it("starts a run's first steps in its creation transaction on a worker instance, and through NOTIFY from an API-only one", async () => {
    const slug = await define({ steps: [{ key: 'a', agent: 'echo', input: { v: 1 } }, { key: 'b', agent: 'echo', input: { v: 2 } }] });
    // Which transaction wrote the run's creation, and each first step's start.
    const txOf = async (runId: string) =>
      (await ds.query(
        `SELECT type, tx_id::text AS tx FROM orchestration_events WHERE run_id = $1 AND type IN ('run.created', 'step.started') ORDER BY seq`,
        [runId],
      )) as { type: string; tx: string }[];

    const here = await start(slug);
    await waitForRun(app, org.users.operator.token, here, ['completed']);
    const fast = await txOf(here);
    expect(fast.map((e) => e.type)).toEqual(['run.created', 'step.started', 'step.started']);
    expect(new Set(fast.map((e) => e.tx)).size).toBe(1);

    const api = await createApp(testConfig({ databaseUrl: scratch.scratch.url, role: 'api', pollIntervalMs: 200 }));
    await api.init();
    try {
      const res = await request(api.getHttpServer()).post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {} }).expect(201);
      await waitForRun(app, org.users.operator.token, res.body.id, ['completed']);
      const woken = await txOf(res.body.id);
      expect(woken.map((e) => e.type)).toEqual(['run.created', 'step.started', 'step.started']);
      expect(woken[1].tx).not.toBe(woken[0].tx);
    } finally {
      await api.close();
    }
  });

  it('starts more runs at once than the engine pool has connections, no transaction waiting on another for one', async () => {
    // The claim in a run's creation looks its agents up; on a cache miss (a new organization) it must read them on its
    // own transaction's connection: asking the pool for a second one deadlocked once every connection was so held.
    const fresh = await createTestOrganization(app, ds, 'engine-burst');
    await insertDefinition(ds, fresh.id, { slug: 'burst', name: 'burst', steps: [{ key: 'a', agent: 'echo', input: { n: 1 } }] });
    const starter = app.get(RunStarter);
    const started = await Promise.all(Array.from({ length: 30 }, () => starter.start({ organizationId: fresh.id, definition: 'burst', input: {} })));
    expect(new Set(started.map((s) => s.run.id)).size).toBe(30);
    for (const { run } of started) await waitForRun(app, fresh.users.viewer.token, run.id, ['completed']);
  });

  it('runs a diamond and joins both branches', async () => {
    const slug = await define({
      steps: [
        { key: 'a', agent: 'echo', input: { v: 1 } },
        { key: 'b', agent: 'echo', dependsOn: ['a'], input: { from: 'b', v: '{{ steps.a.output.v }}' } },
        { key: 'c', agent: 'echo', dependsOn: ['a'], input: { from: 'c', v: '{{ steps.a.output.v }}' } },
        { key: 'd', agent: 'echo', dependsOn: ['b', 'c'], input: { b: '{{ steps.b.output }}', c: '{{ steps.c.output.from }}' } },
      ],
      output: { joined: '{{ steps.d.output }}' },
    });
    const run = await waitForRun(app, org.users.operator.token, await start(slug), ['completed']);
    expect(run.output).toEqual({ joined: { b: { from: 'b', v: 1 }, c: 'c' } });
  });

  it('runs a 50-wide fan-out and fan-in, each step completing exactly once', async () => {
    const branches = Array.from({ length: 50 }, (_, i) => ({ key: `w${i}`, agent: 'echo', dependsOn: ['start'], input: { i } }));
    const slug = await define({
      steps: [{ key: 'start', agent: 'echo', input: {} }, ...branches, { key: 'join', agent: 'echo', dependsOn: branches.map((b) => b.key), input: { last: '{{ steps.w49.output.i }}' } }],
    });
    const runId = await start(slug);
    const run = await waitForRun(app, org.users.operator.token, runId, ['completed']);
    expect(run.output).toEqual({ join: { last: 49 } });
    const log = await events(runId);
    const completed = log.filter((e) => e.type === 'step.completed').map((e) => e.stepKey);
    expect(completed).toHaveLength(52);
    expect(new Set(completed).size).toBe(52);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log[0].type).toBe('run.created');
    expect(log[log.length - 1].type).toBe('run.completed');
  });

  it('retries a flaky step with backoff until it succeeds on attempt 3', async () => {
    const slug = await define({
      steps: [{ key: 'f', agent: 'flaky', input: { failTimes: 2 }, retry: { maxAttempts: 3, initialDelayMs: 100, backoff: 'exponential', jitter: false } }],
    });
    const runId = await start(slug);
    const run = await waitForRun(app, org.users.operator.token, runId, ['completed']);
    expect(run.steps?.[0]).toMatchObject({ status: 'completed', attempt: 3, output: { attempt: 3 } });
    const retries = (await events(runId)).filter((e) => e.type === 'step.retrying');
    expect(retries.map((e) => e.payload.delayMs)).toEqual([100, 200]);
    expect(retries.map((e) => (e.payload.error as { code: string }).code)).toEqual(['FLAKY', 'FLAKY']);
  });

  it('fails at once on a non-retryable error, fails the run and cancels its dependents', async () => {
    const slug = await define({
      steps: [
        { key: 'bad', agent: 'fail', input: { code: 'BROKEN', message: 'nope' }, retry: { maxAttempts: 5 } },
        { key: 'after', agent: 'echo', dependsOn: ['bad'] },
        { key: 'slow', agent: 'sleep', input: { ms: 10000 } },
      ],
    });
    const runId = await start(slug);
    const run = await waitForRun(app, org.users.operator.token, runId, ['failed']);
    const byKey = Object.fromEntries((run.steps ?? []).map((s) => [s.key, s]));
    expect(byKey.bad).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'BROKEN', message: 'nope', retryable: false } });
    expect(byKey.after.status).toBe('cancelled');
    expect(byKey.slow.status).toBe('cancelled');
    expect(run.error).toMatchObject({ step: 'bad', error: { code: 'BROKEN' } });
    const types = (await events(runId)).map((e) => e.type);
    expect(types.filter((t) => t === 'step.completed')).toHaveLength(0);
    expect(types[types.length - 1]).toBe('run.failed');
  });

  it('fires the step timeout through its AbortSignal and retries it', async () => {
    const slug = await define({
      steps: [{ key: 'slow', agent: 'sleep', input: { ms: 5000 }, timeoutMs: 150, retry: { maxAttempts: 2, initialDelayMs: 50, jitter: false } }],
    });
    const runId = await start(slug);
    const run = await waitForRun(app, org.users.operator.token, runId, ['failed']);
    expect(run.steps?.[0]).toMatchObject({ status: 'failed', attempt: 2, error: { code: 'TIMEOUT', retryable: true } });
    const log = await events(runId);
    expect(log.filter((e) => e.type === 'step.retrying').map((e) => (e.payload.error as { code: string }).code)).toEqual(['TIMEOUT']);
  });

  it('cancels a run mid-flight: the running step is aborted and never completes', async () => {
    const slug = await define({ steps: [{ key: 'long', agent: 'sleep', input: { ms: 20000 } }, { key: 'next', agent: 'echo', dependsOn: ['long'] }] });
    const runId = await start(slug);
    await waitForRunningStep(runId, 'long');
    const res = await http().post(`/orchestrations/runs/${runId}/cancel`).set(auth()).send({ reason: 'changed my mind' }).expect(200);
    expect(res.body.status).toBe('cancelled');
    expect(res.body.steps.map((s: { status: string }) => s.status)).toEqual(['cancelled', 'cancelled']);
    await http().post(`/orchestrations/runs/${runId}/cancel`).set(auth()).send({}).expect(409);
    await new Promise((r) => setTimeout(r, 300));
    const types = (await events(runId)).map((e) => e.type);
    expect(types).not.toContain('step.completed');
    expect(types[types.length - 1]).toBe('run.cancelled');
  });

  it('resumes a failed run when an operator retries the failed step with an edited input (audited)', async () => {
    const slug = await define({
      steps: [
        { key: 'f', agent: 'flaky', input: { failTimes: 5 }, retry: { maxAttempts: 1 } },
        { key: 'g', agent: 'echo', dependsOn: ['f'], input: { got: '{{ steps.f.output.attempt }}' } },
      ],
    });
    const runId = await start(slug);
    await waitForRun(app, org.users.operator.token, runId, ['failed']);
    await http().post(`/orchestrations/runs/${runId}/steps/f/retry`).set(auth(org.users.viewer.token)).send({}).expect(403);
    await http().post(`/orchestrations/runs/${runId}/steps/g/retry`).set(auth()).send({}).expect(409);
    await http().post(`/orchestrations/runs/${runId}/steps/f/retry`).set(auth()).send({ input: { failTimes: 0 } }).expect(200);
    const run = await waitForRun(app, org.users.operator.token, runId, ['completed']);
    expect(run.output).toEqual({ g: { got: 2 } });
    const audit = await ds.query(`SELECT actor_type, actor_id, action, details FROM audit_log WHERE target_id = $1`, [runId]);
    expect(audit).toEqual([{ actor_type: 'user', actor_id: org.users.operator.id, action: 'step.retry', details: { stepKey: 'f', input: { failTimes: 0 } } }]);
    expect((await events(runId)).map((e) => e.type)).toContain('run.resumed');
  });

  it('lets dependents proceed with a substitute output when an operator skips a failed step (audited)', async () => {
    const slug = await define({
      steps: [
        { key: 'a', agent: 'fail', input: {} },
        { key: 'b', agent: 'echo', dependsOn: ['a'], input: { v: '{{ steps.a.output.v }}' } },
      ],
    });
    const runId = await start(slug);
    await waitForRun(app, org.users.operator.token, runId, ['failed']);
    await http().post(`/orchestrations/runs/${runId}/steps/a/skip`).set(auth()).send({ output: { v: 42 } }).expect(200);
    const run = await waitForRun(app, org.users.operator.token, runId, ['completed']);
    expect(run.steps?.map((s) => [s.key, s.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'completed'],
    ]);
    expect(run.output).toEqual({ b: { v: 42 } });
    const [audit] = await ds.query(`SELECT action, details FROM audit_log WHERE target_id = $1`, [runId]);
    expect(audit).toEqual({ action: 'step.skip', details: { stepKey: 'a', output: { v: 42 } } });
  });

  it('returns the same run for a repeated idempotency key, and 409 when the key is reused for another definition', async () => {
    const slug = await define({ steps: [{ key: 'a', agent: 'echo' }] });
    const first = await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, idempotencyKey: `k-${slug}` }).expect(201);
    const again = await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, idempotencyKey: `k-${slug}` }).expect(200);
    expect(again.body.id).toBe(first.body.id);
    const racing = await Promise.all(
      Array.from({ length: 8 }, () => http().post('/orchestrations/runs').set(auth()).send({ definition: slug, idempotencyKey: `race-${slug}` })),
    );
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
    expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
    const otherSlug = await define({ steps: [{ key: 'a', agent: 'echo' }] });
    await http().post('/orchestrations/runs').set(auth()).send({ definition: otherSlug, idempotencyKey: `k-${slug}` }).expect(409);
  });

  it('rejects input that does not match the input schema with paths, creating nothing', async () => {
    const slug = await define({
      input: { type: 'object', required: ['quarter'], additionalProperties: false, properties: { quarter: { type: 'string', pattern: '^Q[1-4]$' } } },
      steps: [{ key: 'a', agent: 'echo' }],
    });
    const res = await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: { quarter: 'Q9', extra: 1 } }).expect(400);
    expect(res.body.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '$.input.quarter' }), expect.objectContaining({ path: '$.input', code: 'additionalProperties' })]),
    );
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE organization_id = $1 AND definition_slug = $2`, [org.id, slug]);
    expect(n).toBe(0);
    await http().post('/orchestrations/runs').set(auth()).send({ definition: 'no-such-definition' }).expect(404);
    await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, bogus: true }).expect(400);
    await http().post('/orchestrations/runs').set(auth(org.users.viewer.token)).send({ definition: slug, input: { quarter: 'Q1' } }).expect(403);
  });

  it('summarises status (from memory once warm), lists and pages runs, and hides them from other organizations', async () => {
    const slug = await define({ steps: [{ key: 'a', agent: 'echo' }, { key: 'b', agent: 'echo', dependsOn: ['a'] }] });
    const runId = await start(slug);
    await waitForRun(app, org.users.operator.token, runId, ['completed']);
    const cache = app.get(TaskStatusService);
    const first = await http().get(`/orchestrations/runs/${runId}/status`).set(auth(org.users.viewer.token)).expect(200);
    expect(first.body).toMatchObject({ runId, status: 'completed', total: 2, percent: 100, counts: { completed: 2 }, runningSteps: [] });
    const hits = cache.stats.hits;
    await http().get(`/orchestrations/runs/${runId}/status`).set(auth(org.users.viewer.token)).expect(200);
    expect(cache.stats.hits).toBe(hits + 1);

    const list = await http().get(`/orchestrations/runs?definition=${slug}&status=completed&limit=1`).set(auth()).expect(200);
    expect(list.body).toMatchObject({ total: 1, limit: 1, offset: 0 });
    expect(list.body.items[0].id).toBe(runId);
    const log = await events(runId);
    const after = await http().get(`/orchestrations/runs/${runId}/events?after=${log[2].id}`).set(auth()).expect(200);
    expect(after.body.items.map((e: { seq: number }) => e.seq)).toEqual(log.slice(3).map((e) => e.seq));

    for (const path of [`/orchestrations/runs/${runId}`, `/orchestrations/runs/${runId}/status`, `/orchestrations/runs/${runId}/events`]) {
      await http().get(path).set(auth(other.users.admin.token)).expect(404);
      await http().get(path).expect(401);
    }
    await http().post(`/orchestrations/runs/${runId}/cancel`).set(auth(other.users.admin.token)).send({}).expect(404);
    await http().get(`/orchestrations/runs/not-a-uuid`).set(auth()).expect(400);
  });

  it('keeps the warm status current as events arrive from the workers', async () => {
    const slug = await define({ steps: [{ key: 'a', agent: 'sleep', input: { ms: 400 } }] });
    const runId = await start(slug);
    await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200);
    const deadline = Date.now() + 10_000;
    let status = '';
    while (Date.now() < deadline && status !== 'completed') {
      status = (await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200)).body.status;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('completed');
  });

  it('is an A2A agent: the orchestrator runner starts a run for a task without id and answers a task with one', async () => {
    const slug = await define({ steps: [{ key: 'a', agent: 'echo', input: '{{ input }}' }] });
    const runner = app.get(AgentRunnerRegistry).forType('orchestrator');
    const ctx = { organizationId: org.id, agentSlug: slug, config: {}, attempt: 1, signal: new AbortController().signal, onProgress: () => undefined };
    const started = await runner.execute({ message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ data: { hello: 'a2a' } }] }, metadata: { definition: slug } }, ctx);
    expect(['TASK_STATE_WORKING', 'TASK_STATE_COMPLETED']).toContain(started.status.state);
    await waitForRun(app, org.users.operator.token, started.id, ['completed']);
    const answered = await runner.execute({ taskId: started.id, message: { messageId: 'm2', role: 'ROLE_USER', parts: [] } }, ctx);
    expect(answered.status.state).toBe('TASK_STATE_COMPLETED');
    expect(answered.artifacts[0].parts[0].data).toEqual({ a: { hello: 'a2a' } });
  });

  async function waitForRunningStep(runId: string, key: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200);
      if (res.body.steps.find((s: { key: string; status: string }) => s.key === key)?.status === 'running') return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`step ${key} never started`);
  }
});
