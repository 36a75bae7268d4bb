/**
 * Budgets end to end: LLM usage adds up durably on the run; a step that would go past the run's (or its agent's)
 * budget fails with BUDGET_EXCEEDED naming the limit, or with `onExceeded: approval` pauses at a checkpoint whose
 * continue raises the limit (audited), and abort cancels. The context agents answer offline (local provider), whose
 * token counts are estimated like a real model's.
 */
import type { INestApplication } from '@nestjs/common';
import type { DefinitionSpec } from '#core';
import { waitFor, waitForRun, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const TEXT = 'Quarterly revenue rose in every region while churn fell. '.repeat(20);

describe('budgets (e2e)', () => {
  let s: ScratchApp;
  let app: INestApplication;
  let org: TestOrganization;

  beforeAll(async () => {
    s = await openScratchApp('budgets', { llmBaseUrl: undefined });
    ({ app, org } = s);
    const agent = (slug: string, config: Record<string, unknown>) =>
      s.scratch.dataSource.query(`INSERT INTO agents (organization_id, slug, name, type, capabilities, config) VALUES ($1, $2, $2, 'context', '{}', $3)`, [
        org.id,
        slug,
        JSON.stringify({ model: 'gpt-4o-mini', maxTokens: 300, ...config }),
      ]);
    await agent('writer', {});
    await agent('tight', { budget: { maxTokens: 5 } });
  });

  afterAll(() => s?.close());

  const http = () => s.http();
  const auth = (token = org.users.operator.token) => ({ Authorization: `Bearer ${token}` });
  const define = (spec: Omit<DefinitionSpec, 'slug' | 'name'>) => s.define(spec);
  const twoCalls = (agent = 'writer') => ({
    steps: [
      { key: 'first', agent, input: { text: TEXT } },
      { key: 'second', agent, dependsOn: ['first'], input: { text: '{{ steps.first.output.text }}' } },
    ],
  });
  const run = async (runId: string) => (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;

  it("adds each step's usage to the run and fails the step that would go past the run's budget with BUDGET_EXCEEDED", async () => {
    const slug = await define({ ...twoCalls(), budget: { maxTokens: 20 } });
    const runId = (await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {} }).expect(201)).body.id;
    await waitForRun(app, org.users.operator.token, runId, ['failed', 'completed']);
    const body = await run(runId);
    expect(body.status).toBe('failed');
    const first = body.steps.find((s: { key: string }) => s.key === 'first');
    expect(first.status).toBe('completed');
    expect(body.usage).toEqual({
      inputTokens: first.usage.inputTokens,
      outputTokens: first.usage.outputTokens,
      totalTokens: first.usage.totalTokens,
      costUsd: first.usage.costUsd,
    });
    expect(body.usage.totalTokens).toBeGreaterThanOrEqual(20);
    const second = body.steps.find((s: { key: string }) => s.key === 'second');
    expect(second).toMatchObject({
      status: 'failed',
      attempt: 1,
      usage: null,
      error: { code: 'BUDGET_EXCEEDED', retryable: false, details: { scope: 'run', limit: 'maxTokens', max: 20 } },
    });
    expect(second.error.message).toMatch(/budget maxTokens 20 of the run is reached/);
  });

  it('a start request sets its own budget, over the definition\'s; a bad one is a 400', async () => {
    const slug = await define({ ...twoCalls(), budget: { maxTokens: 1_000_000 } });
    const runId = (await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {}, budget: { maxTokens: 10, maxCostUsd: 5 } }).expect(201)).body.id;
    await waitForRun(app, org.users.operator.token, runId, ['failed', 'completed']);
    const body = await run(runId);
    expect(body.budget).toEqual({ maxTokens: 10, maxCostUsd: 5 });
    expect(body.steps.find((s: { key: string }) => s.key === 'second').error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'maxTokens', max: 10 } });
    for (const budget of [{ maxTokens: 0 }, { maxTokens: 1.5 }, { onExceeded: 'shrug' }, { maxCostUsd: 'a lot' }])
      await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {}, budget }).expect(400);
  });

  it("an agent's budget limits its usage within the run", async () => {
    const slug = await define(twoCalls('tight'));
    const runId = (await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {} }).expect(201)).body.id;
    await waitForRun(app, org.users.operator.token, runId, ['failed', 'completed']);
    const second = (await run(runId)).steps.find((s: { key: string }) => s.key === 'second');
    expect(second.error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { scope: 'agent', agent: 'tight', limit: 'maxTokens', max: 5 } });
  });

  it('onExceeded: approval pauses before the call; continue with a higher limit runs the step (kept in its history), abort cancels', async () => {
    const slug = await define({ ...twoCalls(), budget: { maxTokens: 20, onExceeded: 'approval' } });
    const pausedAt = async (runId: string) =>
      waitFor(async () => {
        const body = (await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200)).body;
        return body.pendingApprovals[0] as { id: string; prompt: string } | undefined;
      }, 20_000, 'the budget checkpoint');

    const raised = (await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {} }).expect(201)).body.id;
    const approval = await pausedAt(raised);
    expect(approval.prompt).toMatch(/^Budget reached: budget maxTokens 20 of the run is reached \(\d+ used\)\. Raise it\?$/);
    const paused = await run(raised);
    expect(paused.steps.find((s: { key: string }) => s.key === 'second')).toMatchObject({ status: 'awaiting_approval', attempt: 0, output: { budgetExceeded: true, scope: 'run', limit: 'maxTokens' } });
    const approver = auth(org.users.approver.token);
    // not above what was used: refused, the checkpoint stays open
    await http().post(`/orchestrations/approvals/${approval.id}/decision`).set(approver).send({ decision: 'continue', modifications: { maxTokens: 10 } }).expect(400);
    await http().post(`/orchestrations/approvals/${approval.id}/decision`).set(approver).send({ decision: 'continue', modifications: { maxTokens: 100000 } }).expect(200);
    const done = await waitForRun(app, org.users.operator.token, raised, ['completed', 'failed', 'cancelled']);
    expect(done.status).toBe('completed');
    const after = await run(raised);
    expect(after.budget).toMatchObject({ maxTokens: 100000, onExceeded: 'approval' });
    expect(after.steps.find((s: { key: string }) => s.key === 'second')).toMatchObject({ status: 'completed', attempt: 1 });
    const history = (await http().get(`/orchestrations/approvals/${approval.id}`).set(auth()).expect(200)).body.history;
    expect(history).toEqual([expect.objectContaining({ decision: 'continue', modifications: { maxTokens: 100000 } })]);

    const aborted = (await http().post('/orchestrations/runs').set(auth()).send({ definition: slug, input: {} }).expect(201)).body.id;
    const second = await pausedAt(aborted);
    await http().post(`/orchestrations/approvals/${second.id}/decision`).set(approver).send({ decision: 'abort' }).expect(200);
    expect((await waitForRun(app, org.users.operator.token, aborted, ['cancelled', 'failed', 'completed'])).status).toBe('cancelled');
  });
});
