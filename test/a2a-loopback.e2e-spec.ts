/**
 * Baton talking A2A to Baton: a step of an `a2a` agent whose agent card is another orchestration served by this same
 * app over A2A (docs/a2a.md). The remote orchestration pauses at its own checkpoint; that arrives as the remote task's
 * TASK_STATE_INPUT_REQUIRED, which pauses the calling step at a Baton checkpoint of its own; answering that one with
 * the remote decision resumes the remote task, whose result completes the calling step.
 */
import type { INestApplication } from '@nestjs/common';
import { insertDefinition, waitFor, waitForRun, type ScratchDatabase, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

describe('A2A loopback: a Baton a2a step drives another Baton orchestration through its approval (e2e)', () => {
  let s: ScratchApp;
  let app: INestApplication;
  let scratch: ScratchDatabase;
  let org: TestOrganization;
  let base: string;

  beforeAll(async () => {
    // Private networks allowed and listening: the remote agent is this app on 127.0.0.1.
    s = await openScratchApp('a2aloop', { agentAllowPrivateNetworks: true }, { listen: true });
    ({ app, scratch, org, base } = s);
    // The remote side decides its own checkpoint with this token: an admin of the organization.
    process.env.LOOP_A2A_TOKEN = org.users.admin.token;
    await insertDefinition(scratch.dataSource, org.id, {
      slug: 'loop-inner',
      name: 'Inner',
      input: { type: 'object', properties: { topic: { type: 'string' } } },
      steps: [
        { key: 'draft', agent: 'echo', input: { draft: 'about {{ input.topic }}' }, approval: { prompt: 'Publish the inner draft?' } },
        { key: 'publish', agent: 'echo', dependsOn: ['draft'], input: { published: '{{ steps.draft.output.draft }}' } },
      ],
    });
    await scratch.dataSource.query(`INSERT INTO agents (organization_id, slug, name, type, capabilities, config) VALUES ($1, 'inner-agent', 'Inner over A2A', 'a2a', '{}', $2)`, [
      org.id,
      JSON.stringify({ agentCardUrl: `${base}/a2a/loop-inner/.well-known/agent-card.json?organization=${org.slug}`, tokenEnv: 'LOOP_A2A_TOKEN' }),
    ]);
    await insertDefinition(scratch.dataSource, org.id, {
      slug: 'loop-outer',
      name: 'Outer',
      steps: [
        { key: 'remote', agent: 'inner-agent', input: { topic: '{{ input.topic }}' } },
        { key: 'after', agent: 'echo', dependsOn: ['remote'], input: { got: '{{ steps.remote.output.data }}' } },
      ],
    });
  });

  afterAll(async () => {
    delete process.env.LOOP_A2A_TOKEN;
    await s?.close();
  });

  const http = () => s.http();
  const auth = (token = org.users.operator.token) => ({ Authorization: `Bearer ${token}` });

  it('the remote checkpoint becomes a local one; answering it continues the remote run, whose output completes the step', async () => {
    const outer = (await http().post('/orchestrations/runs').set(auth()).send({ definition: 'loop-outer', input: { topic: 'tides' } }).expect(201)).body.id as string;
    const local = await waitFor(async () => {
      const body = (await http().get(`/orchestrations/runs/${outer}/status`).set(auth()).expect(200)).body;
      return body.pendingApprovals.find((a: { runId: string }) => a.runId === outer) as { id: string; prompt: string } | undefined;
    }, 20_000, 'the local checkpoint');
    expect(local.prompt).toContain('Publish the inner draft?');
    const step = (await http().get(`/orchestrations/runs/${outer}`).set(auth()).expect(200)).body.steps.find((s: { key: string }) => s.key === 'remote');
    const innerId = step.output.remoteTask.taskId as string;
    // The remote task is the inner run, paused at its own checkpoint.
    const inner = (await http().get(`/orchestrations/runs/${innerId}`).set(auth()).expect(200)).body;
    expect(inner).toMatchObject({ definition: 'loop-inner', status: 'awaiting_approval', input: { topic: 'tides' } });

    await http()
      .post(`/orchestrations/approvals/${local.id}/decision`)
      .set(auth(org.users.approver.token))
      .send({ decision: 'retry', modifications: { reply: { decision: 'continue', comment: 'fine by the outer run' } } })
      .expect(200);
    const done = await waitForRun(app, org.users.operator.token, outer, ['completed', 'failed', 'cancelled'], 30_000);
    expect(done.status).toBe('completed');
    const finishedInner = await waitForRun(app, org.users.operator.token, innerId, ['completed', 'failed', 'cancelled']);
    expect(finishedInner.output).toEqual({ publish: { published: 'about tides' } });
    expect(done.output).toEqual({ after: { got: { publish: { published: 'about tides' } } } });
    const history = (await http().get(`/orchestrations/approvals?run=${innerId}&status=resolved`).set(auth()).expect(200)).body.items;
    expect(history).toEqual([expect.objectContaining({ stepKey: 'draft', decision: 'continue' })]);
  });
});
