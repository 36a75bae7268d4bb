/**
 * A worker killed (-9) in the middle of a webhook attempt: its delivery stays `delivering` only for its lease, which
 * follows BATON_WEBHOOK_TIMEOUT_MS (timeout + a margin of the timeout, 5 to 30 s), not a fixed 30 s; then another
 * worker takes it over and the receiver gets the event (again: at least once, same event id).
 */
import type { INestApplication } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webhookLeaseMs } from '#webhooks';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createTestOrganization,
  insertDefinition,
  openScratchDatabase,
  startWorkerProcess,
  testConfig,
  waitFor,
  type ScratchDatabase,
  type WorkerProcess,
} from '#testing';

describe('webhook deliveries of a killed worker (e2e)', () => {
  let scratch: ScratchDatabase;
  let app: INestApplication;
  let base: string;
  let receiver: Server;
  let hookUrl: string;
  const requests: { eventId: string; answered: boolean }[] = [];
  const held: ServerResponse[] = [];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    scratch = await openScratchDatabase('webhook_lease');
    // the API only: the steps and the deliveries are the worker processes'
    app = await createApp(testConfig({ databaseUrl: scratch.url, role: 'api' }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    // the first request is never answered (the worker dies holding it); later ones are
    receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      const eventId = String(req.headers['x-orchestration-event-id'] ?? '');
      if (requests.length === 0) {
        requests.push({ eventId, answered: false });
        held.push(res);
        return;
      }
      requests.push({ eventId, answered: true });
      res.writeHead(200).end('ok');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) await w.kill();
    for (const res of held) res.destroy();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await app?.close();
    await scratch?.drop();
  });

  it('keeps the lease to the timeout plus its margin, and another worker delivers after a kill -9', async () => {
    const timeoutMs = 2000;
    expect(webhookLeaseMs(timeoutMs)).toBe(7000);
    expect(webhookLeaseMs(10_000)).toBe(20_000);
    expect(webhookLeaseMs(120_000)).toBe(150_000);

    const ds = scratch.dataSource;
    const org = await createTestOrganization(app, ds, 'lease');
    await insertDefinition(ds, org.id, { slug: 'lease-one', name: 'lease one', steps: [{ key: 'only', agent: 'echo', input: { n: 1 } }] });
    const hook = await fetch(`${base}/webhooks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${org.users.admin.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: hookUrl, eventTypes: ['run.completed'] }),
    });
    expect(hook.status).toBe(201);
    const env = {
      BATON_WEBHOOK_TIMEOUT_MS: String(timeoutMs),
      BATON_POLL_INTERVAL_MS: '100',
      BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    };
    const first = await startWorkerProcess(scratch.url, env);
    workers.push(first);
    const run = await fetch(`${base}/orchestrations/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${org.users.operator.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ definition: 'lease-one' }),
    });
    expect(run.status).toBe(201);

    // the first attempt reached the receiver, which holds it: the delivery is `delivering` under the worker's lease
    await waitFor(async () => requests.length === 1, 20_000, 'the first attempt');
    const [row] = await ds.query(
      `SELECT status, extract(epoch FROM lease_expires_at - last_attempt_at) * 1000 AS lease_ms FROM webhook_deliveries`,
    );
    expect(row.status).toBe('delivering');
    expect(Math.round(Number(row.lease_ms))).toBe(webhookLeaseMs(timeoutMs));

    await first.kill();
    workers.push(await startWorkerProcess(scratch.url, env));
    await waitFor(async () => requests.some((r) => r.answered), 30_000, 'the delivery to be taken over');
    expect(new Set(requests.map((r) => r.eventId)).size).toBe(1); // the same event, again
    await waitFor(
      async () => (await ds.query(`SELECT status FROM webhook_deliveries`))[0]?.status === 'delivered',
      10_000,
      'the delivery to be recorded',
    );
  }, 90_000);
});
