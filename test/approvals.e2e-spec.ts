import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { AgentRunnerRegistry } from '#agents';
import type { DefinitionSpec } from '#core';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  insertDefinition,
  testConfig,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

describe('human-in-the-loop checkpoints (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;

  let scratch: ScratchApp;

  beforeAll(async () => {
    scratch = await openScratchApp('hitl', {});
    ({ app, org } = scratch);
    ds = scratch.scratch.dataSource;
    other = await scratch.organization('hitl-other');
  });

  afterAll(async () => {
    await scratch?.close();
  });

  const http = () => request(app.getHttpServer());
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  let n = 0;
  const define = async (steps: DefinitionSpec['steps'], extra: Partial<DefinitionSpec> = {}): Promise<string> => {
    const slug = `hitl-${++n}-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, { slug, name: slug, steps, ...extra });
    return slug;
  };
  const start = async (slug: string, input: unknown = {}) =>
    (await http().post('/orchestrations/runs').set(as(org.users.operator.token)).send({ definition: slug, input }).expect(201)).body
      .id as string;
  const pendingApproval = async (runId: string, count = 1) =>
    waitFor(
      async () => {
        const res = await http().get(`/orchestrations/approvals?status=pending&run=${runId}`).set(as(org.users.viewer.token)).expect(200);
        return res.body.items.length >= count ? (res.body.items as { id: string; stepKey: string; payload: unknown }[]) : null;
      },
      10_000,
      `approval of ${runId}`,
    );
  const decide = (id: string, body: Record<string, unknown>, token = org.users.approver.token) =>
    http().post(`/orchestrations/approvals/${id}/decision`).set(as(token)).send(body);
  const eventTypes = async (runId: string) =>
    (await http().get(`/orchestrations/runs/${runId}/events`).set(as(org.users.viewer.token)).expect(200)).body.items.map(
      (e: { type: string }) => e.type,
    ) as string[];

  const draftAndPublish = (approval: Record<string, unknown> = {}) =>
    define([
      { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}', n: 1 }, approval: { prompt: 'Publish?', ...approval } },
      {
        key: 'publish',
        agent: 'echo',
        dependsOn: ['draft'],
        input: { text: '{{ steps.draft.output.text }}', n: '{{ steps.draft.output.n }}' },
      },
    ]);

  it('pauses at a checkpoint (A2A input-required) and continues with modifications merged into the output', async () => {
    const runId = await start(await draftAndPublish(), { text: 'hello' });
    const [approval] = await pendingApproval(runId);
    expect(approval).toMatchObject({ stepKey: 'draft', payload: { text: 'hello', n: 1 } });
    await waitForRun(app, org.users.viewer.token, runId, ['awaiting_approval']);

    const runner = app.get(AgentRunnerRegistry).forType('orchestrator');
    const ctx = {
      organizationId: org.id,
      agentSlug: 'x',
      config: {},
      attempt: 1,
      signal: new AbortController().signal,
      onProgress: () => undefined,
    };
    const paused = await runner.execute({ taskId: runId, message: { messageId: 'q', role: 'ROLE_USER', parts: [] } }, ctx);
    expect(paused.status.state).toBe('TASK_STATE_INPUT_REQUIRED');
    expect(paused.status.message?.parts.find((p) => p.data)?.data).toMatchObject({
      approvals: [{ approvalId: approval.id, stepKey: 'draft', prompt: 'Publish?' }],
    });

    const res = await decide(approval.id, { decision: 'continue', modifications: { text: 'edited' }, comment: 'better' }).expect(200);
    expect(res.body).toMatchObject({
      resolved: true,
      approval: { status: 'resolved', decision: 'continue', decidedBy: org.users.approver.id },
    });
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    expect(run.output).toEqual({ publish: { text: 'edited', n: 1 } });
    const types = await eventTypes(runId);
    expect(types).toEqual(
      expect.arrayContaining(['checkpoint.requested', 'run.awaiting_approval', 'checkpoint.resolved', 'run.resumed', 'run.completed']),
    );
    expect(types.indexOf('checkpoint.requested')).toBeLessThan(types.indexOf('checkpoint.resolved'));

    const detail = await http().get(`/orchestrations/approvals/${approval.id}`).set(as(org.users.viewer.token)).expect(200);
    expect(detail.body.history).toEqual([
      expect.objectContaining({
        decision: 'continue',
        decidedBy: org.users.approver.id,
        decidedByEmail: org.users.approver.email,
        payloadSeen: { text: 'hello', n: 1 },
        modificationsDiff: [{ op: 'replace', path: '$.text', from: 'hello', to: 'edited' }],
        comment: 'better',
      }),
    ]);
    // History is immutable: neither the resolved approval nor its decisions can be rewritten.
    await expect(ds.query(`UPDATE human_approvals SET decision = 'abort' WHERE id = $1`, [approval.id])).rejects.toThrow(/immutable/);
    await expect(ds.query(`UPDATE approval_decisions SET decision = 'abort' WHERE approval_id = $1`, [approval.id])).rejects.toThrow(
      /immutable/,
    );
  });

  it('starts the next step in the decision transaction on a worker instance, and through NOTIFY from an API-only one', async () => {
    // The run's decision event and the dependent's start, with the transaction that wrote each.
    const txOf = async (runId: string) =>
      (await ds.query(
        `SELECT type, tx_id::text AS tx FROM orchestration_events
          WHERE run_id = $1 AND (type = 'checkpoint.resolved' OR (type = 'step.started' AND step_key = 'publish')) ORDER BY seq`,
        [runId],
      )) as { type: string; tx: string }[];

    const here = await start(await draftAndPublish(), { text: 'here' });
    await decide((await pendingApproval(here))[0].id, { decision: 'continue' }).expect(200);
    expect((await waitForRun(app, org.users.viewer.token, here, ['completed'])).output).toEqual({ publish: { text: 'here', n: 1 } });
    const fast = await txOf(here);
    expect(fast.map((e) => e.type)).toEqual(['checkpoint.resolved', 'step.started']);
    expect(fast[0].tx).toBe(fast[1].tx);

    const api = await createApp(testConfig({ databaseUrl: scratch.scratch.url, role: 'api', pollIntervalMs: 200 }));
    await api.init();
    try {
      const there = await start(await draftAndPublish(), { text: 'there' });
      const [approval] = await pendingApproval(there);
      await request(api.getHttpServer())
        .post(`/orchestrations/approvals/${approval.id}/decision`)
        .set(as(org.users.approver.token))
        .send({ decision: 'continue' })
        .expect(200);
      expect((await waitForRun(app, org.users.viewer.token, there, ['completed'])).output).toEqual({ publish: { text: 'there', n: 1 } });
      const woken = await txOf(there);
      expect(woken.map((e) => e.type)).toEqual(['checkpoint.resolved', 'step.started']);
      expect(woken[0].tx).not.toBe(woken[1].tx);
    } finally {
      await api.close();
    }
  });

  it('retry runs the step again with modifications merged into its input, and asks again', async () => {
    const runId = await start(await draftAndPublish(), { text: 'v1' });
    const [first] = await pendingApproval(runId);
    await decide(first.id, { decision: 'retry', modifications: { n: 2 } }).expect(200);
    const second = await waitFor(
      async () => (await pendingApproval(runId)).find((a) => a.id !== first.id),
      10_000,
      'the second checkpoint',
    );
    expect(second.payload).toEqual({ text: 'v1', n: 2 });
    await decide(second.id, { decision: 'continue' }).expect(200);
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    expect(run.output).toEqual({ publish: { text: 'v1', n: 2 } });
    expect(run.steps?.find((s) => s.key === 'draft')?.attempt).toBe(2);
  });

  it('skip lets dependents proceed with a null output; abort cancels the run', async () => {
    const skipped = await start(await draftAndPublish(), { text: 'x' });
    await decide((await pendingApproval(skipped))[0].id, { decision: 'skip' }).expect(200);
    const run = await waitForRun(app, org.users.viewer.token, skipped, ['completed']);
    expect(run.steps?.map((s) => s.status)).toEqual(['skipped', 'completed']);
    expect(run.output).toEqual({ publish: { text: null, n: null } });

    const aborted = await start(await draftAndPublish(), { text: 'x' });
    await decide((await pendingApproval(aborted))[0].id, { decision: 'abort', comment: 'no' }).expect(200);
    const cancelled = await waitForRun(app, org.users.viewer.token, aborted, ['cancelled']);
    expect(cancelled.steps?.map((s) => s.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('a type: approval step is a pure gate; parallel branches can wait at the same time', async () => {
    const slug = await define([
      { key: 'left', type: 'approval', input: { side: 'left' }, approval: { prompt: 'Left?' } },
      { key: 'right', type: 'approval', input: { side: 'right' }, approval: { prompt: 'Right?' } },
      {
        key: 'join',
        agent: 'echo',
        dependsOn: ['left', 'right'],
        input: { l: '{{ steps.left.output.side }}', r: '{{ steps.right.output.side }}' },
      },
    ]);
    const runId = await start(slug);
    const approvals = await pendingApproval(runId, 2);
    await decide(approvals[0].id, { decision: 'continue' }).expect(200);
    expect((await http().get(`/orchestrations/runs/${runId}`).set(as(org.users.viewer.token))).body.status).toBe('awaiting_approval');
    await decide(approvals[1].id, { decision: 'continue' }).expect(200);
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    expect(run.output).toEqual({ join: { l: 'left', r: 'right' } });
  });

  it('of 10 concurrent decisions exactly one wins; the rest get 409; deciding again is 409', async () => {
    const runId = await start(await draftAndPublish(), { text: 'race' });
    const [approval] = await pendingApproval(runId);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => decide(approval.id, { decision: i % 2 ? 'continue' : 'skip' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
    expect(results.find((r) => r.status === 409)?.body.message).toMatch(/already resolved/);
    const [{ count }] = await ds.query(`SELECT count(*)::int AS count FROM approval_decisions WHERE approval_id = $1`, [approval.id]);
    expect(count).toBe(1);
  });

  it('a quorum of 2 needs two distinct users; the same user twice is 409', async () => {
    const runId = await start(await draftAndPublish({ quorum: 2 }), { text: 'q' });
    const [approval] = await pendingApproval(runId);
    const first = await decide(approval.id, { decision: 'continue' }).expect(200);
    expect(first.body).toMatchObject({ resolved: false, approval: { status: 'pending' } });
    await decide(approval.id, { decision: 'continue' }).expect(409);
    const second = await decide(approval.id, { decision: 'continue' }, org.users.admin.token).expect(200);
    expect(second.body).toMatchObject({ resolved: true, approval: { status: 'resolved' } });
    await waitForRun(app, org.users.viewer.token, runId, ['completed']);
  });

  it('rejects modifications that fail modificationsSchema with paths, changing nothing', async () => {
    const runId = await start(
      await draftAndPublish({
        modificationsSchema: { type: 'object', additionalProperties: false, properties: { text: { type: 'string', maxLength: 5 } } },
      }),
      { text: 'abc' },
    );
    const [approval] = await pendingApproval(runId);
    const res = await decide(approval.id, { decision: 'continue', modifications: { text: 'far too long', bogus: 1 } }).expect(400);
    expect(res.body.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '$.modifications.text' }),
        expect.objectContaining({ path: '$.modifications', code: 'additionalProperties' }),
      ]),
    );
    const detail = await http().get(`/orchestrations/approvals/${approval.id}`).set(as(org.users.viewer.token)).expect(200);
    expect(detail.body).toMatchObject({ status: 'pending', history: [] });
    await decide(approval.id, { decision: 'continue', modifications: { text: 'ok' } }).expect(200);
  });

  it('only approvers and admins decide (assignees narrow it); other organizations see nothing', async () => {
    const runId = await start(await draftAndPublish({ assignees: [org.users.admin.email] }), { text: 'a' });
    const [approval] = await pendingApproval(runId);
    await decide(approval.id, { decision: 'continue' }, org.users.operator.token).expect(403);
    await decide(approval.id, { decision: 'continue' }, org.users.viewer.token).expect(403);
    const notAssigned = await decide(approval.id, { decision: 'continue' }).expect(403);
    expect(notAssigned.body.message).toMatch(/assignee/);
    await decide(approval.id, { decision: 'maybe' }, org.users.admin.token).expect(400);
    await decide(approval.id, { decision: 'continue' }, other.users.admin.token).expect(404);
    await http().get(`/orchestrations/approvals/${approval.id}`).set(as(other.users.admin.token)).expect(404);
    await http().get(`/orchestrations/approvals`).expect(401);
    await decide(approval.id, { decision: 'continue' }, org.users.admin.token).expect(200);
    const resolved = await http().get(`/orchestrations/approvals?status=resolved&run=${runId}`).set(as(org.users.viewer.token)).expect(200);
    expect(resolved.body.items.map((a: { id: string }) => a.id)).toEqual([approval.id]);
  });

  it('escalates before the deadline, then applies onTimeout', async () => {
    const runId = await start(await draftAndPublish({ escalateAfterMs: 100, timeoutMs: 700, onTimeout: 'continue' }), { text: 't' });
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed'], 15_000);
    expect(run.output).toEqual({ publish: { text: 't', n: 1 } });
    const types = await eventTypes(runId);
    expect(types.indexOf('checkpoint.escalated')).toBeGreaterThan(types.indexOf('checkpoint.requested'));
    expect(types.indexOf('checkpoint.resolved')).toBeGreaterThan(types.indexOf('checkpoint.escalated'));
    const [approval] = (await http().get(`/orchestrations/approvals?run=${runId}`).set(as(org.users.viewer.token))).body.items;
    expect(approval).toMatchObject({ status: 'expired', decision: 'continue' });
    await decide(approval.id, { decision: 'abort' }).expect(409);
  });

  it('applies an approval timeout after an instance restart (the deadline is stored)', async () => {
    const slug = await draftAndPublish({ timeoutMs: 1500, onTimeout: 'skip' });
    const runId = await start(slug, { text: 'restart' });
    await pendingApproval(runId);
    // A second instance that goes away before the deadline, then a fresh one after it: no timer survives in memory.
    const before = await createApp(testConfig({ databaseUrl: scratch.scratch.url, pollIntervalMs: 200 }));
    await before.init();
    await before.close();
    await new Promise((r) => setTimeout(r, 1600));
    const after = await createApp(testConfig({ databaseUrl: scratch.scratch.url, pollIntervalMs: 200 }));
    await after.init();
    try {
      const run = await waitForRun(app, org.users.viewer.token, runId, ['completed'], 15_000);
      expect(run.steps?.map((s) => s.status)).toEqual(['skipped', 'completed']);
    } finally {
      await after.close();
    }
  });
});
