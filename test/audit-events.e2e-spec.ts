/**
 * GET /audit (admin) and GET /orchestrations/events: filters, pagination `{ items, total, limit, offset }`, clear
 * 400s for bad filters, and tenancy (another organization's rows never show).
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig, waitForRun, type TestOrganization } from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(60_000);

describe('audit and event history (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;
  let runId: string;
  let otherRunId: string;
  const started = new Date(Date.now() - 1000).toISOString();

  beforeAll(async () => {
    ds = await openTestDataSource();
    app = await createApp(testConfig());
    await app.init();
    org = await createTestOrganization(app, ds, 'audit');
    other = await createTestOrganization(app, ds, 'audit-other');
    for (const o of [org, other]) {
      await insertDefinition(ds, o.id, { slug: 'pair', name: 'pair', steps: [{ key: 'a', agent: 'echo', input: {} }, { key: 'b', agent: 'echo', dependsOn: ['a'], input: {} }] });
      await insertDefinition(ds, o.id, { slug: 'slow', name: 'slow', steps: [{ key: 's', agent: 'sleep', input: { ms: 30000 } }] });
    }
    runId = (await http().post('/orchestrations/runs').set(as(org, 'operator')).set('X-Request-Id', 'audit-req-1').send({ definition: 'pair', input: {} }).expect(201)).body.id;
    await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    const slow = (await http().post('/orchestrations/runs').set(as(org, 'operator')).send({ definition: 'slow', input: {} }).expect(201)).body.id;
    await http().post(`/orchestrations/runs/${slow}/cancel`).set(as(org, 'operator')).set('X-Request-Id', 'audit-req-2').send({ reason: 'test' }).expect((r) => expect(r.status).toBeLessThan(300));
    await http().post('/webhooks').set(as(org)).send({ url: 'https://example.com/audit-hook' }).expect(201);
    otherRunId = (await http().post('/orchestrations/runs').set(as(other, 'operator')).send({ definition: 'pair', input: {} }).expect(201)).body.id;
    await http().post('/webhooks').set(as(other)).send({ url: 'https://example.com/other-hook' }).expect(201);
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
  });

  const http = () => request(app.getHttpServer());
  const as = (o: TestOrganization, role: keyof TestOrganization['users'] = 'admin') => ({ Authorization: `Bearer ${o.users[role].token}` });

  it('lists the audit log to admins only, newest first, with actor, action, target and request id', async () => {
    await http().get('/audit').set(as(org, 'operator')).expect(403);
    await http().get('/audit').set(as(org, 'viewer')).expect(403);
    const all = (await http().get('/audit').set(as(org)).expect(200)).body;
    expect(all).toMatchObject({ limit: 20, offset: 0 });
    expect(all.items.map((e: { action: string }) => e.action)).toEqual(['webhook.created', 'run.cancel']);
    expect(all.total).toBe(2);
    expect(all.items[1]).toMatchObject({ actorType: 'user', actorId: org.users.operator.id, action: 'run.cancel', targetType: 'run', requestId: 'audit-req-2' });

    const byAction = (await http().get('/audit?action=run.*').set(as(org)).expect(200)).body;
    expect(byAction.items.map((e: { action: string }) => e.action)).toEqual(['run.cancel']);
    const byActor = (await http().get(`/audit?actor=${org.users.admin.id}`).set(as(org)).expect(200)).body;
    expect(byActor.items.map((e: { action: string }) => e.action)).toEqual(['webhook.created']);
    const target = all.items[1].targetId as string;
    expect((await http().get(`/audit?targetType=run&target=${target}`).set(as(org)).expect(200)).body.total).toBe(1);
    expect((await http().get(`/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`).set(as(org)).expect(200)).body.total).toBe(0);
    const paged = (await http().get('/audit?limit=1&offset=1').set(as(org)).expect(200)).body;
    expect(paged).toMatchObject({ total: 2, limit: 1, offset: 1, items: [{ action: 'run.cancel' }] });
  });

  it('refuses bad audit filters with a 400 in the error shape', async () => {
    expect((await http().get('/audit?actor=nope').set(as(org)).expect(400)).body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    await http().get('/audit?from=yesterday').set(as(org)).expect(400);
    await http().get('/audit?action=DROP TABLE').set(as(org)).expect(400);
    const from = new Date().toISOString();
    await http().get(`/audit?from=${from}&to=${from}`).set(as(org)).expect(400);
  });

  it("lists the organization's events newest first, filtered by run, definition, types with wildcards and time", async () => {
    const page = (await http().get(`/orchestrations/events?run=${runId}&limit=200`).set(as(org, 'viewer')).expect(200)).body;
    expect(page.total).toBe(page.items.length);
    expect(page.items[0].type).toBe('run.completed');
    const seqs = page.items.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

    const steps = (await http().get(`/orchestrations/events?run=${runId}&types=step.*&limit=200`).set(as(org, 'viewer')).expect(200)).body;
    expect(steps.items.length).toBeGreaterThan(0);
    expect(steps.items.every((e: { type: string }) => e.type.startsWith('step.'))).toBe(true);
    const finished = (await http().get('/orchestrations/events?definition=pair&types=run.completed').set(as(org, 'viewer')).expect(200)).body;
    expect(finished.items.map((e: { runId: string }) => e.runId)).toEqual([runId]);
    const slow = (await http().get('/orchestrations/events?definition=slow&types=run.cancelled').set(as(org, 'viewer')).expect(200)).body;
    expect(slow.total).toBe(1);
    expect((await http().get(`/orchestrations/events?from=${encodeURIComponent(started)}&types=run.created`).set(as(org, 'viewer')).expect(200)).body.total).toBe(2);
    expect((await http().get(`/orchestrations/events?to=${encodeURIComponent(started)}`).set(as(org, 'viewer')).expect(200)).body.total).toBe(0);
  });

  it("never shows another organization's events, and rejects unknown types", async () => {
    const mine = (await http().get('/orchestrations/events?limit=200').set(as(org, 'viewer')).expect(200)).body;
    expect(mine.items.some((e: { runId: string }) => e.runId === otherRunId)).toBe(false);
    expect((await http().get(`/orchestrations/events?run=${otherRunId}`).set(as(org, 'viewer')).expect(200)).body.total).toBe(0);
    const bad = (await http().get('/orchestrations/events?types=step.exploded').set(as(org, 'viewer')).expect(400)).body;
    expect(bad.message).toContain('Unknown event type');
    await http().get('/orchestrations/events?run=not-a-uuid').set(as(org, 'viewer')).expect(400);
    await http().get('/orchestrations/events').expect(401);
  });
});

describe('event retention (e2e)', () => {
  let ds: DataSource;
  let app: INestApplication;

  beforeAll(async () => {
    ds = await openTestDataSource();
    // Role api: no worker, so the job's own timer never fires during the test; the pass is called directly.
    app = await createApp(testConfig({ role: 'api', eventRetentionDays: 30 }));
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
  });

  it("deletes old finished runs' events but keeps the run row and its terminal event, and leaves other runs alone", async () => {
    const org = await createTestOrganization(app, ds, 'retention');
    const definitionId = await insertDefinition(ds, org.id, { slug: 'old', name: 'old', steps: [{ key: 'a', agent: 'echo', input: {} }] });
    const run = async (status: string, completedDaysAgo: number | null) => {
      const [row] = await ds.query(
        `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, status, input, completed_at, last_seq)
         VALUES ($1, $2, 'old', 1, $3, '{}', ${completedDaysAgo === null ? 'NULL' : `now() - interval '${completedDaysAgo} days'`}, 3) RETURNING id`,
        [org.id, definitionId, status],
      );
      const terminal = status === 'running' ? 'step.started' : `run.${status}`;
      await ds.query(
        `INSERT INTO orchestration_events (organization_id, run_id, seq, type, created_at) VALUES
           ($1, $2, 1, 'run.created', now() - interval '40 days'), ($1, $2, 2, 'step.completed', now() - interval '40 days'), ($1, $2, 3, $3, now() - interval '40 days')`,
        [org.id, row.id, terminal],
      );
      return row.id as string;
    };
    const oldDone = await run('completed', 40);
    const oldFailed = await run('failed', 31);
    const recent = await run('completed', 5);
    const running = await run('running', null);
    const { EventRetentionJob } = await import('../apps/api/src/events/event-retention.job.js');
    expect(await app.get(EventRetentionJob).pruneOnce()).toBeGreaterThanOrEqual(4);
    const types = async (runId: string) => (await ds.query(`SELECT type FROM orchestration_events WHERE run_id = $1 ORDER BY seq`, [runId])).map((r: { type: string }) => r.type);
    expect(await types(oldDone)).toEqual(['run.completed']);
    expect(await types(oldFailed)).toEqual(['run.failed']);
    expect(await types(recent)).toEqual(['run.created', 'step.completed', 'run.completed']);
    expect(await types(running)).toEqual(['run.created', 'step.completed', 'step.started']);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1::uuid[])`, [[oldDone, oldFailed]]);
    expect(n).toBe(2);
  });
});
