/**
 * The WebSocket gateway (`/orchestrations/ws`) over a real socket with the `ws` client: authentication at the
 * upgrade, run subscriptions that replay after a lastEventId and end after the terminal event with exactly the run's
 * event log, organization subscriptions filtered by type and scoped to the caller's organization, and clear errors.
 */
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { createApp } from '../apps/api/src/bootstrap.js';
import { MAX_SUBSCRIPTIONS_PER_SOCKET, StreamSocketServer } from '../apps/api/src/streams/stream-socket.js';
import {
  insertDefinition,
  testConfig,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

interface Frame {
  type: 'subscribed' | 'event' | 'end' | 'error';
  subscription: string | null;
  id?: string;
  event?: string;
  data?: { id: string; runId: string; seq: number; type: string };
  error?: { statusCode: number; message: string; details?: { path: string }[] };
}

/** A socket that keeps every frame it receives. */
class Client {
  readonly frames: Frame[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
  }

  static open(url: string, token?: string, viaQuery = false): Promise<Client> {
    const target = viaQuery && token ? `${url}?access_token=${encodeURIComponent(token)}` : url;
    const ws = new WebSocket(target, { headers: token && !viaQuery ? { Authorization: `Bearer ${token}` } : {} });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`upgrade answered ${res.statusCode}`), { statusCode: res.statusCode })),
      );
      ws.once('error', reject);
    });
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  of(subscription: string): Frame[] {
    return this.frames.filter((f) => f.subscription === subscription);
  }

  until(subscription: string, type: Frame['type']): Promise<Frame[]> {
    return waitFor(
      async () => (this.of(subscription).some((f) => f.type === type) ? this.of(subscription) : null),
      10_000,
      `${type} of ${subscription}`,
    );
  }

  close(): void {
    this.ws.close();
  }
}

describe('event streams over WebSocket (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;
  let url: string;

  let scratch: ScratchApp;

  beforeAll(async () => {
    scratch = await openScratchApp('ws', {}, { listen: true });
    ({ app, org } = scratch);
    url = `${scratch.base.replace('http:', 'ws:')}/orchestrations/ws`;
    ds = scratch.scratch.dataSource;
    other = await scratch.organization('ws-other');
    for (const o of [org, other])
      await insertDefinition(ds, o.id, {
        slug: 'ws-chain',
        name: 'ws chain',
        steps: [
          { key: 'a', agent: 'echo', input: { n: 1 } },
          { key: 'b', agent: 'echo', dependsOn: ['a'], input: { n: 2 } },
          { key: 'c', agent: 'echo', dependsOn: ['b'], input: { n: 3 } },
        ],
      });
  });

  afterAll(async () => {
    await scratch?.close();
  });

  const runToCompletion = async (who: TestOrganization) => {
    const res = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set({ Authorization: `Bearer ${who.users.operator.token}` })
      .send({ definition: 'ws-chain' })
      .expect(201);
    await waitForRun(app, who.users.viewer.token, res.body.id, ['completed']);
    const log = await request(app.getHttpServer())
      .get(`/orchestrations/runs/${res.body.id}/events`)
      .set({ Authorization: `Bearer ${who.users.viewer.token}` })
      .expect(200);
    return { runId: res.body.id as string, log: log.body.items as { id: string; type: string }[] };
  };

  it('refuses an upgrade without valid credentials (401), and accepts the token as a header or ?access_token=', async () => {
    await expect(Client.open(url)).rejects.toMatchObject({ statusCode: 401 });
    await expect(Client.open(url, 'not-a-token')).rejects.toMatchObject({ statusCode: 401 });
    (await Client.open(url, org.users.viewer.token)).close();
    (await Client.open(url, org.users.viewer.token, true)).close();
  });

  it("replays a run after lastEventId, then ends: together with what came before, exactly the run's event log", async () => {
    const { runId, log } = await runToCompletion(org);
    const client = await Client.open(url, org.users.viewer.token);
    try {
      client.send({ action: 'subscribe', id: 'all', runId });
      const all = await client.until('all', 'end');
      expect(all[0].type).toBe('subscribed');
      expect(all.filter((f) => f.type === 'event').map((f) => f.id)).toEqual(log.map((e) => e.id));
      expect(all.filter((f) => f.type === 'event').every((f) => f.event === f.data?.type && f.data?.runId === runId)).toBe(true);

      client.send({ action: 'subscribe', id: 'rest', runId, lastEventId: log[3].id });
      const rest = await client.until('rest', 'end');
      expect([...log.slice(0, 4).map((e) => e.id), ...rest.filter((f) => f.type === 'event').map((f) => f.id)]).toEqual(
        log.map((e) => e.id),
      );

      // after the terminal event there is nothing more: subscribed, then end at once
      client.send({ action: 'subscribe', id: 'done', runId, lastEventId: log[log.length - 1].id });
      expect((await client.until('done', 'end')).map((f) => f.type)).toEqual(['subscribed', 'end']);
    } finally {
      client.close();
    }
  });

  it('follows the organization live, filtered by type, never showing another organization', async () => {
    const client = await Client.open(url, org.users.viewer.token);
    try {
      client.send({ action: 'subscribe', id: 'org', types: ['run.completed'] });
      await client.until('org', 'subscribed');
      const theirs = await runToCompletion(other);
      const mine = await runToCompletion(org);
      const events = await waitFor(async () => {
        const got = client.of('org').filter((f) => f.type === 'event');
        return got.some((f) => f.data?.runId === mine.runId) ? got : null;
      });
      expect(events.every((f) => f.event === 'run.completed')).toBe(true);
      expect(events.some((f) => f.data?.runId === theirs.runId)).toBe(false);
    } finally {
      client.close();
    }
  });

  it('answers other upgrade paths 404, and limits the subscriptions one socket holds', async () => {
    await expect(Client.open(url.replace('/orchestrations/ws', '/elsewhere'), org.users.viewer.token)).rejects.toMatchObject({
      statusCode: 404,
    });
    const client = await Client.open(url, org.users.viewer.token);
    try {
      for (let i = 0; i <= MAX_SUBSCRIPTIONS_PER_SOCKET; i++) client.send({ action: 'subscribe', id: `s${i}` });
      const over = `s${MAX_SUBSCRIPTIONS_PER_SOCKET}`;
      expect((await client.until(over, 'error')).find((f) => f.type === 'error')?.error).toMatchObject({
        statusCode: 400,
        message: expect.stringMatching(/At most 100/),
      });
      await waitFor(async () =>
        client.frames.filter((f) => f.type === 'subscribed').length === MAX_SUBSCRIPTIONS_PER_SOCKET ? true : null,
      );
      client.send({ action: 'subscribe', id: 's0' });
      expect((await client.until('s0', 'error')).find((f) => f.type === 'error')?.error).toMatchObject({ statusCode: 409 });
    } finally {
      client.close();
    }
  });

  it('closes a socket that falls further behind than BATON_SSE_MAX_QUEUE unsent frames (code 4008)', async () => {
    const { runId } = await runToCompletion(org);
    const tight = await createApp(testConfig({ databaseUrl: scratch.scratch.url, sseMaxQueue: 1 }));
    await tight.listen(0, '127.0.0.1');
    try {
      const client = await Client.open(
        `ws://127.0.0.1:${(tight.getHttpServer().address() as AddressInfo).port}/orchestrations/ws`,
        org.users.viewer.token,
      );
      const closed = new Promise<number>((resolve) => client.ws.once('close', (code) => resolve(code)));
      // The replay hands the whole log over at once: the second frame finds the first not yet flushed.
      client.send({ action: 'subscribe', id: 'all', runId });
      expect(await closed).toBe(4008);
      expect(tight.get(StreamSocketServer).dropped).toBe(1);
    } finally {
      await tight.close();
    }
  });

  it('answers bad frames and foreign runs with an error frame, keeping the socket open', async () => {
    const { runId: foreign } = await runToCompletion(other);
    const client = await Client.open(url, org.users.viewer.token);
    try {
      client.ws.send('not json');
      client.send({ action: 'subscribe', id: 'x', runId: foreign });
      client.send({ action: 'subscribe', id: 'y', runId: 'nope' });
      client.send({ action: 'subscribe', id: 'z', types: 'step.exploded' });
      client.send({ action: 'dance', id: 'w' });
      await waitFor(async () => (client.frames.filter((f) => f.type === 'error').length >= 5 ? true : null));
      const errorOf = (subscription: string | null) =>
        client.frames.find((f) => f.type === 'error' && f.subscription === subscription)?.error;
      expect(errorOf(null)).toMatchObject({ statusCode: 400, message: 'Frames are JSON' });
      expect(errorOf('x')).toMatchObject({ statusCode: 404 });
      expect(errorOf('y')).toMatchObject({ statusCode: 400, details: [{ path: '$.runId' }] });
      expect(errorOf('z')).toMatchObject({ statusCode: 400 });
      expect(errorOf('w')).toMatchObject({ statusCode: 400, details: [{ path: '$.action' }] });
      expect(client.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      client.close();
    }
  });
});
