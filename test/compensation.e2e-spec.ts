import type { INestApplication } from '@nestjs/common';
import type { DefinitionSpec } from '#core';
import { waitFor, waitForRun, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

describe('saga compensation (e2e)', () => {
  let s: ScratchApp;
  let app: INestApplication;
  let org: TestOrganization;

  beforeAll(async () => {
    s = await openScratchApp('saga');
    ({ app, org } = s);
  });

  afterAll(() => s?.close());

  const http = () => s.http();
  const auth = (token = org.users.operator.token) => ({ Authorization: `Bearer ${token}` });
  const define = (spec: Omit<DefinitionSpec, 'slug' | 'name'>) => s.define(spec);
  const start = async (definition: string, input: unknown = {}) =>
    (await http().post('/orchestrations/runs').set(auth()).send({ definition, input }).expect(201)).body.id as string;
  const events = async (runId: string) =>
    ((await http().get(`/orchestrations/runs/${runId}/events`).set(auth()).expect(200)).body.items as { type: string; stepKey: string | null; payload: Record<string, unknown> }[]);
  const trail = async (runId: string) =>
    (await events(runId))
      .filter((e) => e.type.startsWith('run.') || e.type.startsWith('step.compensat') || e.type === 'step.failed' || (e.type === 'step.completed' && e.stepKey?.endsWith('.rollback')))
      .map((e) => `${e.type}${e.stepKey ? `:${e.stepKey}` : ''}`);

  const booking = (last: DefinitionSpec['steps'][number], rollbackAgent = 'echo', rollbackRetry?: { maxAttempts: number }): Omit<DefinitionSpec, 'slug' | 'name'> => ({
    compensate: true,
    defaults: { retry: { maxAttempts: 1 } },
    steps: [
      {
        key: 'reserve',
        agent: 'echo',
        input: { seat: '{{ input.seat }}' },
        reversible: true,
        rollback: { agent: rollbackAgent, input: { release: '{{ steps.reserve.output.seat }}', failTimes: 9 }, ...(rollbackRetry ? { retry: { ...rollbackRetry, initialDelayMs: 10, backoff: 'fixed' as const } } : {}) },
      },
      { key: 'charge', agent: 'echo', dependsOn: ['reserve'], input: { amount: 42 }, reversible: true, rollback: { agent: 'echo', input: { refund: '{{ steps.charge.output.amount }}' } } },
      { key: 'note', agent: 'echo', dependsOn: ['reserve'], input: { note: 'not reversible' } },
      { ...last, dependsOn: ['charge', 'note'] },
    ],
  });

  it('a failure after two reversible steps undoes both, latest first, each as a durable step; the run ends failed with compensation completed', async () => {
    const runId = await start(await define(booking({ key: 'ship', agent: 'fail', input: {} })), { seat: '12A' });
    const run = await waitForRun(app, org.users.operator.token, runId, ['failed', 'cancelled', 'completed']);
    expect(run.status).toBe('failed');
    const body = (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;
    expect(body.compensation).toBe('completed');
    expect(body.error).toMatchObject({ step: 'ship' });
    const rollbacks = body.steps.filter((s: { type: string }) => s.type === 'rollback');
    expect(rollbacks.map((s: { key: string; status: string; input: unknown; compensates: string }) => [s.key, s.status, s.compensates, s.input])).toEqual([
      ['reserve.rollback', 'completed', 'reserve', { release: '12A', failTimes: 9 }],
      ['charge.rollback', 'completed', 'charge', { refund: 42 }],
    ]);
    expect(await trail(runId)).toEqual([
      'run.created',
      'run.started',
      'step.failed:ship',
      'run.compensating',
      'step.compensating:charge',
      'step.completed:charge.rollback',
      'step.compensated:charge',
      'step.compensating:reserve',
      'step.completed:reserve.rollback',
      'step.compensated:reserve',
      'run.failed',
    ]);
    const final = (await events(runId)).at(-1);
    expect(final?.payload).toMatchObject({ compensation: 'completed', error: { step: 'ship' } });
  });

  it('a failing rollback is retried, then reported: the run ends failed with compensation failed and what failed', async () => {
    const runId = await start(await define(booking({ key: 'ship', agent: 'fail', input: {} }, 'flaky', { maxAttempts: 2 })), { seat: '3C' });
    await waitForRun(app, org.users.operator.token, runId, ['failed', 'cancelled', 'completed']);
    const body = (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;
    expect(body.status).toBe('failed');
    expect(body.compensation).toBe('failed');
    expect(body.error).toMatchObject({ step: 'ship', compensation: { failed: { step: 'reserve.rollback', error: { code: 'FLAKY' } } } });
    const reserveRollback = body.steps.find((s: { key: string }) => s.key === 'reserve.rollback');
    expect(reserveRollback).toMatchObject({ status: 'failed', attempt: 2 });
    const all = await events(runId);
    expect(all.filter((e) => e.type === 'step.retrying' && e.stepKey === 'reserve.rollback')).toHaveLength(1);
    expect(all.find((e) => e.type === 'step.compensated' && e.stepKey === 'reserve')?.payload).toMatchObject({ rollbackStep: 'reserve.rollback', error: { code: 'FLAKY' } });
    expect(all.at(-1)?.payload).toMatchObject({ compensation: 'failed' });
  });

  it('an abort at a checkpoint compensates too; the run ends cancelled', async () => {
    const runId = await start(await define(booking({ key: 'confirm', agent: 'echo', input: {}, approval: { prompt: 'Confirm the booking?' } })), { seat: '1A' });
    const approval = await waitFor(async () => {
      const body = (await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200)).body;
      return body.pendingApprovals[0] as { id: string } | undefined;
    }, 15_000, 'the checkpoint');
    await http().post(`/orchestrations/approvals/${approval.id}/decision`).set(auth(org.users.approver.token)).send({ decision: 'abort' }).expect(200);
    const run = await waitForRun(app, org.users.operator.token, runId, ['cancelled', 'failed', 'completed']);
    expect(run.status).toBe('cancelled');
    const body = (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;
    expect(body.compensation).toBe('completed');
    expect(body.steps.filter((s: { type: string; status: string }) => s.type === 'rollback' && s.status === 'completed')).toHaveLength(2);
    expect((await trail(runId)).at(-1)).toBe('run.cancelled');
  });

  it('without compensate: true nothing is undone', async () => {
    const spec = booking({ key: 'ship', agent: 'fail', input: {} });
    const runId = await start(await define({ ...spec, compensate: false }), { seat: '9F' });
    const run = await waitForRun(app, org.users.operator.token, runId, ['failed', 'cancelled', 'completed']);
    expect(run.status).toBe('failed');
    const body = (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;
    expect(body.compensation).toBeNull();
    expect(body.steps.some((s: { type: string }) => s.type === 'rollback')).toBe(false);
  });
});
