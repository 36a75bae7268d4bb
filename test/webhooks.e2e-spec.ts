/**
 * Webhooks end to end on a scratch database (so no other suite's dispatcher touches these deliveries), with real
 * HTTP receivers in the test that verify every signature: delivery of a run's events, receivers that are down or
 * failing for the first attempts (each event arrives later, accepted once per event id), dead-lettering and
 * redelivery, the transactional outbox, tenancy and roles.
 */
import type { INestApplication } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { verifyWebhook, WebhookDispatcher } from '#webhooks';
import { createApp } from '../apps/api/src/bootstrap.js';
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

jest.setTimeout(90_000);

interface Received {
  eventId: string;
  eventType: string;
  timestamp: string;
  verified: boolean;
  body: Record<string, unknown>;
  answered: number;
}

/** A real HTTP receiver: verifies each request with the secret it is given, answers what `answer` says. */
class Receiver {
  readonly requests: Received[] = [];
  secret = '';
  answer: (eventId: string, nth: number) => number = () => 200;
  private server: Server | null = null;

  async listen(port = 0): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const header = (name: string) => req.headers[name] as string;
        const eventId = header('x-orchestration-event-id');
        const verified = verifyWebhook(
          this.secret,
          { timestamp: header('x-orchestration-timestamp'), signature: header('x-orchestration-signature') },
          raw,
        );
        const nth = this.requests.filter((r) => r.eventId === eventId).length + 1;
        const answered = verified ? this.answer(eventId, nth) : 401;
        this.requests.push({
          eventId,
          eventType: header('x-orchestration-event'),
          timestamp: header('x-orchestration-timestamp'),
          verified,
          body: JSON.parse(raw),
          answered,
        });
        res.writeHead(answered, { 'Content-Type': 'text/plain' }).end(answered >= 300 ? `not now (${answered}) ${'.'.repeat(5000)}` : 'ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Event ids the receiver accepted (answered 2xx), with how many times each. */
  accepted(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.requests) if (r.answered < 300) counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}

interface DeliveryBody {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastResponse: string | null;
  attemptLog: { attempt: number; statusCode: number | null; error: string | null; responseBody: string | null }[];
}

describe('webhooks (e2e)', () => {
  let url: string;
  let ds: DataSource;
  let app: INestApplication;
  let org: TestOrganization;
  let other: TestOrganization;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `webhooks_${process.pid}`);
    ds = createDataSource(url, 5);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(
      testConfig({
        databaseUrl: url,
        pollIntervalMs: 100,
        webhookRetryDelayMs: 100,
        webhookMaxRetryDelayMs: 400,
        webhookMaxAttempts: 8,
        webhookTimeoutMs: 2000,
      }),
    );
    await app.init();
    org = await createTestOrganization(app, ds, 'hooks');
    other = await createTestOrganization(app, ds, 'hooks-other');
    await insertDefinition(ds, org.id, { slug: 'hooked', name: 'hooked', steps: chain });
  });

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await app?.close();
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const chain: DefinitionSpec['steps'] = [
    { key: 'a', agent: 'echo', input: { n: 1 } },
    { key: 'b', agent: 'echo', dependsOn: ['a'], input: { n: 2 } },
    { key: 'c', agent: 'echo', dependsOn: ['b'], input: { n: 3 } },
  ];
  const http = () => request(app.getHttpServer());
  const as = (o: TestOrganization, role: keyof TestOrganization['users'] = 'admin') => ({ Authorization: `Bearer ${o.users[role].token}` });
  const receiver = () => {
    const r = new Receiver();
    receivers.push(r);
    return r;
  };
  const subscribe = async (target: Receiver, hookUrl: string, eventTypes?: string[]) => {
    const res = await http().post('/webhooks').set(as(org)).send({ url: hookUrl, eventTypes }).expect(201);
    target.secret = res.body.secret;
    return res.body.id as string;
  };
  const runToCompletion = async () => {
    const res = await http().post('/orchestrations/runs').set(as(org, 'operator')).send({ definition: 'hooked', input: {} }).expect(201);
    await waitForRun(app, org.users.viewer.token, res.body.id, ['completed']);
    const log = (await http().get(`/orchestrations/runs/${res.body.id}/events`).set(as(org, 'viewer')).expect(200)).body.items as {
      id: string;
      runId: string;
      seq: number;
      type: string;
      stepKey: string | null;
      payload: unknown;
      createdAt: string;
    }[];
    return { runId: res.body.id as string, log };
  };
  const deliveries = async (webhookId: string): Promise<DeliveryBody[]> =>
    (await http().get(`/webhooks/${webhookId}/deliveries?limit=200`).set(as(org)).expect(200)).body.items;

  it('only admins manage webhooks; the secret is shown once and stored encrypted; URLs and event types are validated', async () => {
    await http().post('/webhooks').set(as(org, 'operator')).send({ url: 'https://example.com/hook' }).expect(403);
    await http().get('/webhooks').set(as(org, 'viewer')).expect(403);
    await http().get('/webhooks').set(as(org, 'approver')).expect(403);

    const created = await http()
      .post('/webhooks')
      .set(as(org))
      .send({ url: 'https://example.com/hook', eventTypes: ['run.completed'], description: 'ops' })
      .expect(201);
    expect(created.body).toMatchObject({
      url: 'https://example.com/hook',
      eventTypes: ['run.completed'],
      description: 'ops',
      active: true,
      createdBy: org.users.admin.id,
    });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const fetched = await http().get(`/webhooks/${created.body.id}`).set(as(org)).expect(200);
    expect(fetched.body).not.toHaveProperty('secret');
    expect(JSON.stringify((await http().get('/webhooks').set(as(org)).expect(200)).body)).not.toContain(created.body.secret);
    const [stored] = await ds.query(`SELECT secret_encrypted FROM webhook_subscriptions WHERE id = $1`, [created.body.id]);
    expect(stored.secret_encrypted).not.toContain(created.body.secret.slice(6));
    const [audit] = await ds.query(`SELECT action, actor_id FROM audit_log WHERE target_id = $1`, [created.body.id]);
    expect(audit).toEqual({ action: 'webhook.created', actor_id: org.users.admin.id });

    const invalid = async (body: Record<string, unknown>) => (await http().post('/webhooks').set(as(org)).send(body).expect(400)).body;
    expect((await invalid({ url: 'ftp://example.com/x' })).details).toEqual([
      { path: '$.url', message: 'only http and https URLs are allowed' },
    ]);
    expect((await invalid({ url: 'https://user:pw@example.com/x' })).details[0].path).toBe('$.url');
    expect((await invalid({ url: 'https://example.com/x', eventTypes: ['step.exploded'] })).details[0].path).toBe('$.eventTypes');
    expect((await invalid({ url: 'https://example.com/x', secret: 'mine' })).details[0].path).toBe('$.secret');

    await http().delete(`/webhooks/${created.body.id}`).set(as(org)).expect(204);
    await http().get(`/webhooks/${created.body.id}`).set(as(org)).expect(404);
  });

  it('refuses receivers on loopback, private and metadata addresses unless BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS is on', async () => {
    const strict = await createApp(testConfig({ databaseUrl: url, role: 'api', webhookAllowPrivateNetworks: false }));
    await strict.init();
    try {
      const create = (url: string) =>
        request(strict.getHttpServer())
          .post('/webhooks')
          .set(as(org))
          .send({ url, eventTypes: ['run.completed'] });
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://169.254.169.254/latest/meta-data/',
        'http://[::1]/x',
        'http://localhost:3000/',
        'http://10.0.0.7/',
        'http://0x7f.1/',
      ]) {
        const res = await create(url).expect(400);
        expect([url, res.body.details]).toEqual([url, [{ path: '$.url', message: expect.stringMatching(/public addresses only/) }]]);
      }
      const allowed = await create('https://hooks.example.com/baton').expect(201);
      await request(strict.getHttpServer()).delete(`/webhooks/${allowed.body.id}`).set(as(org)).expect(204);
    } finally {
      await strict.close();
    }
  });

  it('delivers every event of a run once, signed, with the X-Orchestration headers and the event as body', async () => {
    const target = receiver();
    const webhookId = await subscribe(target, await target.listen());
    const { log } = await runToCompletion();
    await waitFor(async () => target.requests.length >= log.length, 20_000, 'every event to arrive');
    await new Promise((resolve) => setTimeout(resolve, 300)); // and nothing more

    expect(target.requests.map((r) => r.eventId).sort()).toEqual(log.map((e) => e.id).sort());
    for (const event of log) {
      const got = target.requests.find((r) => r.eventId === event.id);
      expect(got).toMatchObject({ verified: true, eventType: event.type, body: event });
      expect(Math.abs(Number(got?.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    }
    const listed = await deliveries(webhookId);
    expect(listed).toHaveLength(log.length);
    for (const delivery of listed) {
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, lastResponse: 'ok' });
      expect(delivery.attemptLog).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200, error: null, responseBody: 'ok' })]);
    }
    await http().delete(`/webhooks/${webhookId}`).set(as(org)).expect(204);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE subscription_id = $1`, [webhookId]);
    expect(n).toBe(0);
  });

  it('a receiver that is down, or failing, for the first attempts gets each event later, accepted once per event id', async () => {
    const downPort = await freePort();
    const down = receiver();
    const downId = await subscribe(down, `http://127.0.0.1:${downPort}/hook`, ['step.completed', 'run.completed']);
    const flaky = receiver();
    flaky.answer = (_, nth) => (nth <= 2 ? 503 : 200);
    const flakyId = await subscribe(flaky, await flaky.listen(), ['step.completed', 'run.completed']);

    const { log } = await runToCompletion();
    const wanted = log.filter((e) => e.type === 'step.completed' || e.type === 'run.completed').map((e) => e.id);
    expect(wanted).toHaveLength(4);
    await waitFor(
      async () => (await deliveries(downId)).filter((d) => d.attempts >= 2).length === wanted.length,
      20_000,
      'two failed attempts each',
    );
    await down.listen(downPort); // the receiver comes back

    await waitFor(
      async () => (await deliveries(downId)).every((d) => d.status === 'delivered'),
      20_000,
      'the down receiver to get everything',
    );
    await waitFor(
      async () => (await deliveries(flakyId)).every((d) => d.status === 'delivered'),
      20_000,
      'the flaky receiver to get everything',
    );
    for (const target of [down, flaky]) {
      expect([...target.accepted().keys()].sort()).toEqual([...wanted].sort());
      expect([...target.accepted().values()].every((n) => n === 1)).toBe(true);
      expect(target.requests.every((r) => r.verified)).toBe(true);
    }
    for (const delivery of await deliveries(downId)) {
      const failed = delivery.attemptLog.slice(0, -1);
      expect(failed.length).toBeGreaterThanOrEqual(2);
      for (const attempt of failed) expect(attempt).toMatchObject({ statusCode: null, error: expect.stringMatching(/ECONNREFUSED/) });
      expect(delivery.attemptLog[delivery.attemptLog.length - 1]).toMatchObject({ statusCode: 200, error: null });
    }
    for (const delivery of await deliveries(flakyId)) {
      expect(delivery.attemptLog.map((a) => a.statusCode)).toEqual([503, 503, 200]);
      expect(delivery.attemptLog[0].responseBody).toHaveLength(2048); // truncated
      expect(flaky.requests.filter((r) => r.eventId === delivery.eventId).map((r) => r.body)).toEqual(
        Array(3).fill(flaky.requests.find((r) => r.eventId === delivery.eventId)?.body), // a retry is the same event, byte for byte
      );
    }
  });

  it('dead-letters a delivery after the maximum attempts; redeliver sends it again with a fresh budget', async () => {
    const target = receiver();
    target.answer = () => 500;
    const webhookId = await subscribe(target, await target.listen(), ['run.completed']);
    const { log } = await runToCompletion();
    const completed = log.find((e) => e.type === 'run.completed')?.id;

    const [dead] = await waitFor(
      async () => {
        const list = await deliveries(webhookId);
        return list.length === 1 && list[0].status === 'dead' ? list : null;
      },
      30_000,
      'the delivery to go dead',
    );
    expect(dead).toMatchObject({ eventId: completed, attempts: 8, lastStatusCode: 500, lastError: 'receiver answered 500' });
    expect(dead.attemptLog.map((a) => a.statusCode)).toEqual(Array(8).fill(500));
    expect(target.requests).toHaveLength(8);

    target.answer = () => 200;
    await http().post(`/webhooks/${webhookId}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`).set(as(org)).expect(404);
    await http().post(`/webhooks/${webhookId}/deliveries/${dead.id}/redeliver`).set(as(org, 'operator')).expect(403);
    const again = await http().post(`/webhooks/${webhookId}/deliveries/${dead.id}/redeliver`).set(as(org)).expect(202);
    expect(again.body).toMatchObject({ id: dead.id, status: 'pending', attempts: 8 });
    await waitFor(async () => (await deliveries(webhookId))[0].status === 'delivered', 10_000, 'the redelivery');
    const [delivered] = await deliveries(webhookId);
    expect(delivered).toMatchObject({ attempts: 9, lastStatusCode: 200, deadAt: null });
    expect(target.accepted()).toEqual(new Map([[completed, 1]]));
    const filtered = (await http().get(`/webhooks/${webhookId}/deliveries?status=dead`).set(as(org)).expect(200)).body;
    expect(filtered.items).toEqual([]);
  });

  it('fills the outbox in the same transaction as the event: a rolled-back event leaves no delivery; filters apply', async () => {
    const target = receiver();
    const webhookId = await subscribe(target, await target.listen(), ['step.progress']);
    const { runId } = await runToCompletion();
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const [progress] = await runner.query(
        `INSERT INTO orchestration_events (organization_id, run_id, seq, type, step_key, payload) VALUES ($1, $2, 100001, 'step.progress', 'a', '{}') RETURNING id`,
        [org.id, runId],
      );
      const [ignored] = await runner.query(
        `INSERT INTO orchestration_events (organization_id, run_id, seq, type, step_key, payload) VALUES ($1, $2, 100002, 'step.ready', 'a', '{}') RETURNING id`,
        [org.id, runId],
      );
      const inside = await runner.query(`SELECT event_id::text AS event_id FROM webhook_deliveries WHERE subscription_id = $1`, [
        webhookId,
      ]);
      expect(inside).toEqual([{ event_id: String(progress.id) }]); // step.ready is not subscribed
      await runner.rollbackTransaction();
      const after = await ds.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = ANY($1::bigint[])`, [
        [progress.id, ignored.id],
      ]);
      expect(after[0].n).toBe(0);
    } finally {
      await runner.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.requests).toEqual([]);
  });

  it('the outbox trigger sends no NOTIFY (it would serialise event commits); dispatchers wake on the events channel', async () => {
    const target = receiver();
    await subscribe(target, await target.listen(), ['run.completed']);
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.channel));
    try {
      await listener.query('LISTEN baton_webhooks');
      await listener.query('LISTEN baton_events');
      const { runId } = await runToCompletion();
      await waitFor(async () => (target.requests.some((r) => r.body.runId === runId) ? true : null));
      expect(heard).toContain('baton_events');
      expect(heard).not.toContain('baton_webhooks');
    } finally {
      await listener.end();
    }
  });

  it('deletes finished deliveries older than BATON_WEBHOOK_RETENTION_DAYS with their attempts, never pending ones', async () => {
    const target = receiver();
    const webhookId = await subscribe(target, await target.listen(), ['run.started', 'run.completed']);
    await runToCompletion();
    const delivered = await waitFor(async () => {
      const list = await deliveries(webhookId);
      return list.length === 2 && list.every((d) => d.status === 'delivered') ? list : null;
    });
    const [old, recent] = delivered.map((d) => d.id);
    await ds.query(`UPDATE webhook_deliveries SET updated_at = now() - interval '31 days' WHERE id = $1`, [old]);
    // A pending delivery as old as that stays (its retry is not due for a day, so nothing sends it meanwhile).
    await ds.query(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() + interval '1 day', updated_at = now() - interval '31 days' WHERE id = $1`,
      [recent],
    );

    expect(await app.get(WebhookDispatcher).purge()).toBeGreaterThanOrEqual(1);
    // nothing old is left: the count is the rows deleted (not the 2 of a [rows, rowCount] pair)
    expect(await app.get(WebhookDispatcher).purge()).toBe(0);
    const left = await ds.query(`SELECT id, status FROM webhook_deliveries WHERE subscription_id = $1`, [webhookId]);
    expect(left).toEqual([{ id: recent, status: 'pending' }]);
    const attempts = await ds.query(`SELECT count(*)::int AS n FROM webhook_delivery_attempts WHERE delivery_id = $1`, [old]);
    expect(attempts[0].n).toBe(0);
  });

  it("another organization's webhook ids answer 404, and its list does not show them", async () => {
    const target = receiver();
    const webhookId = await subscribe(target, await target.listen(), ['run.completed']);
    await runToCompletion();
    const [delivery] = await waitFor(async () => {
      const list = await deliveries(webhookId);
      return list.length > 0 ? list : null;
    });
    await http().get(`/webhooks/${webhookId}`).set(as(other)).expect(404);
    await http().get(`/webhooks/${webhookId}/deliveries`).set(as(other)).expect(404);
    await http().post(`/webhooks/${webhookId}/deliveries/${delivery.id}/redeliver`).set(as(other)).expect(404);
    await http().delete(`/webhooks/${webhookId}`).set(as(other)).expect(404);
    expect((await http().get('/webhooks').set(as(other)).expect(200)).body).toMatchObject({ items: [], total: 0 });
    await http().get(`/webhooks/${webhookId}`).set(as(org)).expect(200);
  });
});
