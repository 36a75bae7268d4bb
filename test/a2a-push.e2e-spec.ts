/**
 * A2A push notifications through the signed webhook outbox, to a local receiver: the config's authentication is
 * sent as Authorization, its token as X-A2A-Notification-Token and as the signing secret (the receiver verifies
 * X-Orchestration-Signature), bodies are StreamResponses, a failed attempt is retried. Config methods driven with
 * the official SDK client.
 */
import type { INestApplication } from '@nestjs/common';
import { TaskState } from '@a2a-js/sdk';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { protocolDataPart } from '#a2a';
import { verifyWebhook } from '#webhooks';
import { createApp } from '../apps/api/src/bootstrap.js';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig, waitFor, type TestOrganization } from '#testing';
import { a2aClient, asTask, dataParts, sendRequest, userMessage } from './a2a-client.js';

interface Received {
  authorization: string | undefined;
  token: string | undefined;
  contentType: string | undefined;
  verified: boolean;
  eventId: string;
  body: {
    task?: { id: string; status: { state: string }; artifacts: { artifactId: string; parts: { data: unknown }[] }[] };
    statusUpdate?: { taskId: string; status: { state: string; message?: { parts: { text?: string; data?: unknown }[] } } };
  };
}

describe('A2A push notifications (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;
  let base: string;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const TOKEN = 'task-token-0123456789abcdef';
  let failNext = 0;

  beforeAll(async () => {
    app = await createApp(testConfig({ pollIntervalMs: 200, webhookRetryDelayMs: 100 }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    ds = await openTestDataSource();
    org = await createTestOrganization(app, ds, 'a2apush');
    other = await createTestOrganization(app, ds, 'a2apush-other');
    receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        const verified = verifyWebhook(
          TOKEN,
          { timestamp: req.headers['x-orchestration-timestamp'] as string, signature: req.headers['x-orchestration-signature'] as string },
          body,
        );
        received.push({
          authorization: req.headers.authorization,
          token: req.headers['x-a2a-notification-token'] as string | undefined,
          contentType: req.headers['content-type'],
          verified,
          eventId: req.headers['x-orchestration-event-id'] as string,
          body: JSON.parse(body) as Received['body'],
        });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/a2a-hook`;
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await ds?.destroy();
    await app?.close();
  });

  it('delivers the task updates of a config given with SendMessage, signed and authenticated, retrying a failed attempt', async () => {
    const slug = `push-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, {
      slug,
      name: slug,
      steps: [
        { key: 'first', agent: 'echo', input: { text: '{{ input.text }}' } },
        { key: 'second', agent: 'echo', dependsOn: ['first'], input: { text: '{{ steps.first.output.text }}' } },
      ],
    });
    failNext = 1; // the first notification is refused once: it must come again
    const client = await a2aClient(base, slug, org.users.operator.token);
    const message = sendRequest(userMessage([protocolDataPart({ text: 'pushed' })]), true);
    message.configuration = {
      ...message.configuration!,
      taskPushNotificationConfig: {
        tenant: '',
        id: 'cfg-1',
        taskId: '',
        url: receiverUrl,
        token: TOKEN,
        authentication: { scheme: 'Bearer', credentials: 'receiver-credential' },
      },
    };
    const task = asTask(await client.sendMessage(message));
    const mine = () => received.filter((r) => (r.body.task?.id ?? r.body.statusUpdate?.taskId) === task.id);
    const final = await waitFor(
      async () => mine().find((r) => r.body.task?.status.state === 'TASK_STATE_COMPLETED'),
      20_000,
      'the completed task notification',
    );
    expect(final.body.task?.artifacts[0]).toMatchObject({ artifactId: 'result', parts: [{ data: { second: { text: 'pushed' } } }] });
    const logged = await ds.query(
      `SELECT count(*)::int AS n FROM orchestration_events WHERE run_id = $1 AND type IN ('step.started', 'step.completed', 'run.completed')`,
      [task.id],
    );
    await waitFor(async () => mine().length === logged[0].n, 10_000, 'every notification');
    for (const r of mine()) {
      expect(r).toMatchObject({
        authorization: 'Bearer receiver-credential',
        token: TOKEN,
        contentType: 'application/a2a+json',
        verified: true,
      });
    }
    const texts = mine().flatMap((r) => r.body.statusUpdate?.status.message?.parts.map((p) => p.text) ?? []);
    expect(texts).toEqual(expect.arrayContaining(['Step 1/2: first', 'Step 2/2: second']));
    // The refused attempt was retried: every notified event came exactly once to this receiver after the refusal.
    const eventIds = mine().map((r) => r.eventId);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    const attempts = await ds.query(
      `SELECT max(d.attempts)::int AS n FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE s.run_id = $1`,
      [task.id],
    );
    expect(attempts[0].n).toBe(2);
    // Push targets are not the organization's webhooks.
    const hooks = await request(app.getHttpServer()).get('/webhooks').set('Authorization', `Bearer ${org.users.admin.token}`).expect(200);
    expect(hooks.body.items).toHaveLength(0);
  });

  it('creates, gets, lists and deletes configs per task; another organization sees none of them', async () => {
    const slug = `pushcfg-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, {
      slug,
      name: slug,
      steps: [{ key: 'draft', agent: 'echo', input: {}, approval: { prompt: 'ok?' } }],
    });
    const client = await a2aClient(base, slug, org.users.operator.token);
    const paused = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({})]))));
    expect(paused.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const created = await client.createTaskPushNotificationConfig({
      tenant: '',
      id: '',
      taskId: paused.id,
      url: receiverUrl,
      token: TOKEN,
      authentication: undefined,
    });
    expect(created.id).toBeTruthy();
    expect(await client.getTaskPushNotificationConfig({ tenant: '', taskId: paused.id, id: created.id })).toMatchObject({
      url: receiverUrl,
      token: TOKEN,
      taskId: paused.id,
    });
    const listed = await client.listTaskPushNotificationConfig({ tenant: '', taskId: paused.id, pageSize: 10, pageToken: '' });
    expect(listed.configs.map((c) => c.id)).toEqual([created.id]);

    // The checkpoint's resolution reaches the receiver (no Authorization: the config has none).
    const [approval] = dataParts(paused.status?.message) as { approvalId: string }[];
    const approver = await a2aClient(base, slug, org.users.approver.token);
    await approver.sendMessage(
      sendRequest(userMessage([protocolDataPart({ approvalId: approval.approvalId, decision: 'continue' })], paused.id)),
    );
    const done = await waitFor(async () => received.find((r) => r.body.task?.id === paused.id), 20_000, 'the completed task notification');
    expect(done).toMatchObject({ authorization: undefined, verified: true });

    const theirs = await a2aClient(base, slug, other.users.admin.token).catch(() => null);
    expect(theirs).toBeNull(); // the agent does not exist for them
    await insertDefinition(ds, other.id, { slug, name: slug, steps: [{ key: 'x', agent: 'echo', input: {} }] });
    const otherClient = await a2aClient(base, slug, other.users.admin.token);
    await expect(otherClient.getTaskPushNotificationConfig({ tenant: '', taskId: paused.id, id: created.id })).rejects.toMatchObject({
      envelopeCode: -32001,
    });
    await expect(otherClient.deleteTaskPushNotificationConfig({ tenant: '', taskId: paused.id, id: created.id })).rejects.toMatchObject({
      envelopeCode: -32001,
    });

    await client.deleteTaskPushNotificationConfig({ tenant: '', taskId: paused.id, id: created.id });
    expect(
      (await client.listTaskPushNotificationConfig({ tenant: '', taskId: paused.id, pageSize: 10, pageToken: '' })).configs,
    ).toHaveLength(0);
    await expect(client.getTaskPushNotificationConfig({ tenant: '', taskId: paused.id, id: created.id })).rejects.toMatchObject({
      envelopeCode: -32001,
    });
    await expect(
      client.createTaskPushNotificationConfig({
        tenant: '',
        id: randomUUID(),
        taskId: paused.id,
        url: 'not a url',
        token: '',
        authentication: undefined,
      }),
    ).rejects.toMatchObject({ envelopeCode: -32602 });
  });
});
