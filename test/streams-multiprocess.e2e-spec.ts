/**
 * Live progress across processes, on a scratch database: a BATON_ROLE=worker process runs the steps and writes the
 * events; the API in this test process runs with role `api` (no engine worker, no webhook dispatcher). Its SSE
 * subscribers still get every event (LISTEN/NOTIFY wakes the tail, the rows are read from the log), and webhooks
 * are delivered by the worker process.
 */
import type { INestApplication } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { verifyWebhook, WebhookDispatcher } from '#webhooks';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createScratchDatabase,
  createTestOrganization,
  insertDefinition,
  openSse,
  startWorkerProcess,
  testConfig,
  TEST_ADMIN_URL_ENV,
  waitFor,
  type SseSubscriber,
  type TestOrganization,
  type WorkerProcess,
} from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(120_000);

describe('SSE and webhooks across processes (e2e)', () => {
  let url: string;
  let ds: DataSource;
  let app: INestApplication;
  let org: TestOrganization;
  let base: string;
  let worker: WorkerProcess | undefined;
  const clients: SseSubscriber[] = [];

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `ssemp_${process.pid}`);
    ds = createDataSource(url, 5);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(testConfig({ databaseUrl: url, role: 'api' }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    org = await createTestOrganization(app, ds, 'ssemp');
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await worker?.kill();
    await app?.close();
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  it('events written by a worker process reach SSE subscribers of an API process, complete and in order', async () => {
    await insertDefinition(ds, org.id, {
      slug: 'mp-sse',
      name: 'mp sse',
      steps: [
        { key: 'a', agent: 'sleep', input: { ms: 100 } },
        { key: 'b', agent: 'echo', dependsOn: ['a'], input: { v: 1 } },
        { key: 'c', agent: 'sleep', dependsOn: ['b'], input: { ms: 100 } },
      ],
    });
    worker = await startWorkerProcess(url, { BATON_WEBHOOK_RETRY_DELAY_MS: '200' });
    expect(app.get(WebhookDispatcher).isRunning).toBe(false); // role api: this process sends nothing

    const organization = openSse(`${base}/orchestrations/stream`, org.users.viewer.token);
    clients.push(organization);
    await waitFor(async () => organization.opens === 1, 10_000, 'the organization stream to open');
    const start = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: 'mp-sse', input: {} })
      .expect(201);
    const runId: string = start.body.id;
    const run = openSse(`${base}/orchestrations/runs/${runId}/stream`, org.users.viewer.token);
    clients.push(run);
    await run.waitClosed(30_000);

    const log = (
      await request(app.getHttpServer())
        .get(`/orchestrations/runs/${runId}/events`)
        .set('Authorization', `Bearer ${org.users.viewer.token}`)
        .expect(200)
    ).body.items as { id: string; type: string; payload: { worker?: string } }[];
    expect(run.messages.map((m) => m.id)).toEqual(log.map((e) => e.id));
    expect(run.messages[run.messages.length - 1].type).toBe('run.completed');
    const started = run.messages.filter((m) => m.type === 'step.started').map((m) => (m.data.payload as { worker: string }).worker);
    expect(started).toHaveLength(3);
    for (const owner of started) expect(owner).toContain(`:${worker.pid}:`);

    await organization.waitFor((m) => m.some((e) => e.type === 'run.completed'), 10_000, 'run.completed on the organization stream');
    expect(organization.messages.map((m) => m.id)).toEqual(log.map((e) => e.id));
  });

  it('webhooks of events written by the worker are delivered by the worker process, signed', async () => {
    const received: { eventId: string; verified: boolean }[] = [];
    let secret = '';
    const server: Server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const verified = verifyWebhook(
          secret,
          { timestamp: req.headers['x-orchestration-timestamp'] as string, signature: req.headers['x-orchestration-signature'] as string },
          body,
        );
        received.push({ eventId: req.headers['x-orchestration-event-id'] as string, verified });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const created = await request(app.getHttpServer())
        .post('/webhooks')
        .set('Authorization', `Bearer ${org.users.admin.token}`)
        .send({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, eventTypes: ['run.completed', 'step.completed'] })
        .expect(201);
      secret = created.body.secret;
      const start = await request(app.getHttpServer())
        .post('/orchestrations/runs')
        .set('Authorization', `Bearer ${org.users.operator.token}`)
        .send({ definition: 'mp-sse', input: {} })
        .expect(201);
      const expected: { id: string }[] = await waitFor(
        async () => {
          const rows: { id: string }[] = await ds.query(
            `SELECT id::text AS id FROM orchestration_events WHERE run_id = $1 AND type IN ('run.completed', 'step.completed') ORDER BY seq`,
            [start.body.id],
          );
          return rows.length === 4 ? rows : null;
        },
        30_000,
        'the run to complete',
      );
      await waitFor(async () => received.length >= 4, 20_000, 'four deliveries');
      expect(received.map((r) => r.eventId).sort()).toEqual(expected.map((e) => e.id).sort());
      expect(received.every((r) => r.verified)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await worker?.stop()).toBe(0);
  });
});
