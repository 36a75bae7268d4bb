/**
 * The flagship flows end to end through HTTP, with the seeded agents and definitions exactly as `npm start` seeds
 * them (offline: the local LLM provider, the sql-query tool over the demo KPI tables): kpi-tracking with its approval
 * (continue, retry with modifications, abort), finance-review (the finance-manager orchestrator runs kpi-tracking for
 * three quarters as child runs whose approvals show on the parent), and image-campaign (the image-orchestrator runs
 * the two image generators, here against a local stand-in image API, and collects their assets).
 */
import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DefinitionsService } from '#definitions';
import { AgentsRepository, KpiDemoRepository } from '#persistence';
import { createApp } from '../apps/api/src/bootstrap.js';
import { BASE_AGENTS } from '../seeds/base-agents.js';
import { readDefinitionFiles } from '../seeds/definition-files.js';
import { kpiDemoRows } from '../seeds/kpi-demo-data.js';
import { defaultDefinitionsDir } from '../seeds/seed-runner.js';
import { createTestOrganization, openScratchDatabase, testConfig, waitFor, waitForRun, type ScratchDatabase, type TestOrganization } from '#testing';

// 1x1 transparent PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

interface Approval {
  id: string;
  runId: string;
  stepKey: string;
  prompt: string;
  depth: number;
}

describe('KPI tracking flagship and orchestrator agents (e2e)', () => {
  let app: INestApplication;
  let scratch: ScratchDatabase;
  let org: TestOrganization;
  let stub: Server;
  let stubUrl: string;
  const received: string[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-flagship-'));

  beforeAll(async () => {
    stub = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(req.url ?? '');
        res.setHeader('content-type', 'application/json');
        if (req.url?.includes(':predict')) res.end(JSON.stringify({ predictions: [{ bytesBase64Encoded: PNG.toString('base64'), mimeType: 'image/png' }] }));
        else res.end(JSON.stringify({ data: [{ b64_json: PNG.toString('base64') }] }));
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    scratch = await openScratchDatabase('flagship', 4);
    // Private networks allowed: the stand-in image API listens on 127.0.0.1.
    app = await createApp(testConfig({ databaseUrl: scratch.url, pollIntervalMs: 200, agentAllowPrivateNetworks: true, dataDir }));
    await app.init();
    org = await createTestOrganization(app, scratch.dataSource, 'flagship');
    // What `npm start` seeds into its organization, here into the test organization.
    for (const agent of BASE_AGENTS) await app.get(AgentsRepository).insertIfAbsent(org.id, agent);
    for (const file of readDefinitionFiles(defaultDefinitionsDir())) await app.get(DefinitionsService).apply(org.id, file.text, null);
    await app.get(KpiDemoRepository).insertMissing(kpiDemoRows());
  });

  afterAll(async () => {
    stub?.close();
    await app?.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const http = () => request(app.getHttpServer());
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });
  const operator = () => as(org.users.operator.token);
  const approver = () => as(org.users.approver.token);
  const start = async (definition: string, input: unknown) =>
    (await http().post('/orchestrations/runs').set(operator()).send({ definition, input }).expect(201)).body.id as string;
  const pending = async (runId: string, n: number): Promise<Approval[]> =>
    waitFor(
      async () => {
        const body = (await http().get(`/orchestrations/runs/${runId}/status`).set(operator()).expect(200)).body;
        return body.pendingApprovals.length === n ? (body.pendingApprovals as Approval[]) : null;
      },
      30_000,
      `${n} pending approval(s) on ${runId}`,
    );
  const decide = (approvalId: string, body: Record<string, unknown>) =>
    http().post(`/orchestrations/approvals/${approvalId}/decision`).set(approver()).send(body).expect(200);
  const done = (runId: string) => waitForRun(app, org.users.operator.token, runId, ['completed', 'failed', 'cancelled'], 60_000);

  it('kpi-tracking: reads the quarter, analyzes it offline, pauses for approval, and summarizes what was approved', async () => {
    const runId = await start('kpi-tracking', { quarter: '2026-Q3' });
    const [approval] = await pending(runId, 1);
    expect(approval).toMatchObject({ runId, stepKey: 'analyze', prompt: 'Approve the KPI analysis?', depth: 0 });
    const paused = (await http().get(`/orchestrations/runs/${runId}`).set(operator()).expect(200)).body;
    expect(paused.status).toBe('awaiting_approval');
    const fetch = paused.steps.find((s: { key: string }) => s.key === 'fetch_metrics');
    expect(fetch.output.rows).toHaveLength(20);
    expect(fetch.output.rows[0]).toEqual(expect.objectContaining({ region: expect.any(String), metric: expect.any(String), value: expect.any(Number), target: expect.any(Number) }));
    const analysis = paused.steps.find((s: { key: string }) => s.key === 'analyze').output.text as string;
    expect(analysis).toMatch(/on target/);
    // The analysis' LLM usage is counted while it awaits the decision: on the run and in checkpoint.requested.
    const requested = ((await http().get(`/orchestrations/runs/${runId}/events`).set(operator()).expect(200)).body.items as { type: string; payload: { usage?: { totalTokens: number } } }[]).find(
      (e) => e.type === 'checkpoint.requested',
    );
    expect(requested?.payload.usage?.totalTokens).toBeGreaterThan(0);
    expect(paused.usage.totalTokens).toBe(requested?.payload.usage?.totalTokens);
    await decide(approval.id, { decision: 'continue', modifications: { text: `${analysis} Approved by finance.` } });
    const run = await done(runId);
    expect(run.status).toBe('completed');
    const summary = run.steps?.find((s) => s.key === 'summarize');
    expect(summary?.input).toEqual({ text: `${analysis} Approved by finance.` });
    expect((run.output as { summarize: { text: string } }).summarize.text.length).toBeGreaterThan(0);
  });

  it('kpi-tracking: retry with modifications re-runs the analysis with the edited input, then abort cancels the run', async () => {
    const runId = await start('kpi-tracking', { quarter: '2026-Q2' });
    const [first] = await pending(runId, 1);
    await decide(first.id, { decision: 'retry', modifications: { instruction: 'Only list the KPIs that missed their target.' } });
    const [second] = await waitFor(async () => {
      const list = await pending(runId, 1);
      return list[0].id !== first.id ? list : null;
    }, 30_000, 'the second approval');
    const retried = (await http().get(`/orchestrations/runs/${runId}`).set(operator()).expect(200)).body.steps.find((s: { key: string }) => s.key === 'analyze');
    expect(retried.attempt).toBe(2);
    expect(retried.input.instruction).toBe('Only list the KPIs that missed their target.');
    expect(retried.input.rows).toHaveLength(20);
    await decide(second.id, { decision: 'abort', comment: 'numbers are being restated' });
    const run = await done(runId);
    expect(run.status).toBe('cancelled');
    expect(run.steps?.find((s) => s.key === 'summarize')?.status).toBe('cancelled');
  });

  it('finance-review: finance-manager runs kpi-tracking for three quarters as children; their approvals resume them and the parent aggregates', async () => {
    const quarters = ['2026-Q1', '2026-Q2', '2026-Q3'];
    const runId = await start('finance-review', { quarters });
    const approvals = await pending(runId, 3);
    expect(approvals.every((a) => a.depth === 1 && a.stepKey === 'analyze' && a.runId !== runId)).toBe(true);
    const detail = (await http().get(`/orchestrations/runs/${runId}`).set(operator()).expect(200)).body;
    expect(detail.steps.find((s: { key: string }) => s.key === 'quarters')).toMatchObject({ status: 'waiting', agent: 'finance-manager', children: { total: 3, started: 3, finished: 0 } });
    expect(detail.children.map((c: { definition: string; index: number; status: string }) => [c.definition, c.index, c.status])).toEqual([
      ['kpi-tracking', 0, 'awaiting_approval'],
      ['kpi-tracking', 1, 'awaiting_approval'],
      ['kpi-tracking', 2, 'awaiting_approval'],
    ]);
    for (const approval of approvals) await decide(approval.id, { decision: 'continue' });
    const run = await done(runId);
    expect(run.status).toBe('completed');
    const output = run.output as { quarters: string[]; perQuarter: { summarize: { text: string } }[]; summary: string };
    expect(output.quarters).toEqual(quarters);
    expect(output.perQuarter).toHaveLength(3);
    for (const [i, child] of (detail.children as { id: string }[]).entries()) {
      const kid = (await http().get(`/orchestrations/runs/${child.id}`).set(operator()).expect(200)).body;
      expect(kid.input).toEqual({ quarter: quarters[i] });
      expect(output.perQuarter[i]).toEqual(kid.output);
    }
    expect(output.summary.length).toBeGreaterThan(0);
  });

  it('image-campaign: image-orchestrator runs both generators in parallel as a child run and collects their assets', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${stubUrl}/v1`, GOOGLE_API_KEY: 'g-test', GOOGLE_API_BASE_URL: `${stubUrl}/v1beta` });
    try {
      const runId = await start('image-campaign', { prompt: 'a lighthouse at dawn' });
      const run = await done(runId);
      expect(run.status).toBe('completed');
      const output = run.output as { openai: { assetId: string }[]; google: { assetId: string }[]; description: string };
      expect(output.openai).toEqual([expect.objectContaining({ assetId: expect.any(String), mediaType: 'image/png', sizeBytes: PNG.length })]);
      expect(output.google).toEqual([expect.objectContaining({ assetId: expect.any(String), mediaType: 'image/png' })]);
      expect(received.sort()).toEqual(['/v1/images/generations', '/v1beta/models/imagen-3.0-generate-002:predict']);
      for (const { assetId } of [...output.openai, ...output.google]) {
        const content = await http().get(`/assets/${assetId}/content`).set(operator()).buffer(true).expect(200);
        expect(Buffer.compare(content.body as Buffer, PNG)).toBe(0);
      }
      const [child] = (await http().get(`/orchestrations/runs?parentRunId=${runId}`).set(operator()).expect(200)).body.items;
      expect(child).toMatchObject({ definition: 'image-generation', status: 'completed', depth: 1 });
      // Both generators ran at once in the child (neither waited for the other).
      const steps = (await http().get(`/orchestrations/runs/${child.id}`).set(operator()).expect(200)).body.steps as { key: string; startedAt: string; completedAt: string }[];
      const [openai, google] = ['openai', 'google'].map((k) => steps.find((s) => s.key === k)!);
      expect(Date.parse(openai.startedAt)).toBeLessThan(Date.parse(google.completedAt));
      expect(Date.parse(google.startedAt)).toBeLessThan(Date.parse(openai.completedAt));
    } finally {
      process.env = saved;
    }
  });
});
