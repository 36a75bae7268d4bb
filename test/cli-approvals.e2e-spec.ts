/** approvals:list and approvals:decide of the compiled CLI against runs paused by an in-test server. */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, insertDefinition, openTestDataSource, runCli, testConfig, testDatabaseUrl, waitFor, waitForRun, type TestOrganization } from '#testing';

describe('cli approvals (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  const cli = (...args: string[]) => runCli([...args, '--org', org.slug], { DATABASE_URL: testDatabaseUrl() });

  beforeAll(async () => {
    app = await createApp(testConfig({ pollIntervalMs: 200 }));
    await app.init();
    ds = await openTestDataSource();
    org = await createTestOrganization(app, ds, 'cli-appr');
    await insertDefinition(ds, org.id, {
      slug: 'cli-gate',
      name: 'cli gate',
      steps: [
        { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}' }, approval: { prompt: 'Ship it?' } },
        { key: 'ship', agent: 'echo', dependsOn: ['draft'], input: { shipped: '{{ steps.draft.output.text }}' } },
      ],
    });
  });

  afterAll(async () => {
    await ds?.destroy();
    await app?.close();
  });

  const startPaused = async (text: string) => {
    const res = await request(app.getHttpServer()).post('/orchestrations/runs').set('Authorization', `Bearer ${org.users.operator.token}`).send({ definition: 'cli-gate', input: { text } }).expect(201);
    await waitForRun(app, org.users.viewer.token, res.body.id, ['awaiting_approval']);
    const [row] = await waitFor(async () => {
      const rows = await ds.query(`SELECT id FROM human_approvals WHERE run_id = $1 AND status = 'pending'`, [res.body.id]);
      return rows.length > 0 ? rows : null;
    });
    return { runId: res.body.id as string, approvalId: row.id as string };
  };

  it('lists pending approvals and decides one with modifications, as a named user', async () => {
    const { runId, approvalId } = await startPaused('v1');
    const list = await cli('approvals:list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(approvalId);
    expect(list.stdout).toContain('"Ship it?"');

    const decided = await cli('approvals:decide', approvalId, 'continue', '--modifications', '{"text":"v2"}', '--comment', 'from the terminal', '--as', org.users.approver.email);
    expect(decided.stderr).toBe('');
    expect(decided.code).toBe(0);
    expect(decided.stdout).toContain('continue');
    const run = await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    expect(run.output).toEqual({ ship: { shipped: 'v2' } });
    const [decision] = await ds.query(`SELECT decided_by, comment FROM approval_decisions WHERE approval_id = $1`, [approvalId]);
    expect(decision).toEqual({ decided_by: org.users.approver.id, comment: 'from the terminal' });

    const again = await cli('approvals:decide', approvalId, 'abort');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already resolved/);
  });

  it('refuses a bad decision (2), a viewer (1), and bad JSON (2)', async () => {
    const { approvalId } = await startPaused('x');
    expect((await cli('approvals:decide', approvalId, 'maybe')).code).toBe(2);
    expect((await cli('approvals:decide', approvalId, 'continue', '--modifications', '{oops')).code).toBe(2);
    const viewer = await cli('approvals:decide', approvalId, 'continue', '--as', org.users.viewer.email);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/may not decide/);
    expect((await cli('approvals:decide', approvalId, 'abort')).code).toBe(0);
  });
});
