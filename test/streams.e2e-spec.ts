/**
 * SSE over real HTTP with a real EventSource client (the `eventsource` package): run streams resume after a
 * disconnect with no gap and no duplicate (client-side close + Last-Event-ID, and server-side drop + the client's
 * own reconnect), end after the terminal event (then 204), and the organization stream keeps commit order across
 * a reconnect without leaking another organization's events.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { SseConnections } from '../apps/api/src/streams/sse-connections.js';
import {
  createTestOrganization,
  insertDefinition,
  openSse as openSseClient,
  waitFor,
  waitForRun,
  type SseMessage,
  type SseSubscriber,
  type TestOrganization,
} from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

interface LoggedEvent {
  id: string;
  runId: string;
  seq: number;
  type: string;
  stepKey: string | null;
  payload: unknown;
  createdAt: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SSE streams (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;
  let base: string;

  let scratch: ScratchApp;

  beforeAll(async () => {
    scratch = await openScratchApp('sse', {}, { listen: true });
    ({ app, org, base } = scratch);
    ds = scratch.scratch.dataSource;
    other = await scratch.organization('sse-other');
  });

  // Every client is closed after its test, passed or failed (EventSource would otherwise keep reconnecting).
  const clients: SseSubscriber[] = [];
  const openSse = (...args: Parameters<typeof openSseClient>) => {
    const client = openSseClient(...args);
    clients.push(client);
    return client;
  };
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await scratch?.close();
  });

  const token = (o: TestOrganization = org) => o.users.viewer.token;
  let counter = 0;
  const define = async (o: TestOrganization, steps: DefinitionSpec['steps']): Promise<string> => {
    const slug = `sse-${++counter}-${Date.now().toString(36)}`;
    await insertDefinition(ds, o.id, { slug, name: slug, steps });
    return slug;
  };
  const start = async (slug: string, o: TestOrganization = org): Promise<string> =>
    (
      await request(app.getHttpServer())
        .post('/orchestrations/runs')
        .set('Authorization', `Bearer ${o.users.operator.token}`)
        .send({ definition: slug, input: {} })
        .expect(201)
    ).body.id;
  const logOf = async (runId: string, o: TestOrganization = org): Promise<LoggedEvent[]> =>
    (
      await request(app.getHttpServer())
        .get(`/orchestrations/runs/${runId}/events?limit=1000`)
        .set('Authorization', `Bearer ${token(o)}`)
        .expect(200)
    ).body.items;
  const chain = (n: number, ms: number): DefinitionSpec['steps'] =>
    Array.from({ length: n }, (_, i) => ({ key: `s${i}`, agent: 'sleep', input: { ms }, ...(i > 0 ? { dependsOn: [`s${i - 1}`] } : {}) }));
  const runUrl = (runId: string, query = '') => `${base}/orchestrations/runs/${runId}/stream${query}`;
  /** A finished stream read to its end with fetch: the SSE ids and types it carried, and the status. */
  const readAll = async (url: string, o: TestOrganization = org, headers: Record<string, string> = {}) => {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token(o)}`, ...headers } });
    const text = await response.text();
    const frames = text.split('\n\n').filter((f) => f.startsWith('id: '));
    return {
      status: response.status,
      body: text,
      ids: frames.map((f) => /^id: (\d+)$/m.exec(f)?.[1]),
      types: frames.map((f) => /^event: (.+)$/m.exec(f)?.[1]),
    };
  };
  const asLog = (messages: SseMessage[]) => messages.map((m) => m.data);

  it("a subscriber that disconnects mid-run and resumes with Last-Event-ID sees exactly the run's event log, in order; so do 10 others", async () => {
    const runId = await start(await define(org, chain(6, 150)));
    const first = openSse(runUrl(runId), token());
    const others = Array.from({ length: 10 }, () => openSse(runUrl(runId), token()));
    await first.waitFor((m) => m.some((e) => e.type === 'step.completed'), 20_000, 'a first step.completed');
    first.close();
    const seenBefore = [...first.messages];
    await sleep(400); // the run moves on while this client is away

    const resumed = openSse(runUrl(runId), token(), { lastEventId: seenBefore[seenBefore.length - 1].id });
    await resumed.waitClosed(); // the stream ends after run.completed; the reconnect that follows gets 204
    await Promise.all(others.map((o) => o.waitClosed()));

    const log = await logOf(runId);
    expect(log[log.length - 1].type).toBe('run.completed');
    const seen = [...seenBefore, ...resumed.messages];
    expect(seen.map((m) => m.id)).toEqual(log.map((e) => e.id));
    expect(asLog(seen)).toEqual(log);
    expect(seen.map((m) => m.data.seq)).toEqual(log.map((_, i) => i + 1));
    expect(seen.map((m) => m.type)).toEqual(log.map((e) => e.type));
    expect(resumed.messages.length).toBeGreaterThan(0);
    expect(resumed.opens).toBe(1);
    for (const o of others) expect(o.messages.map((m) => m.id)).toEqual(log.map((e) => e.id));
  });

  it('EventSource reconnects by itself after the server drops it, and resumes right after the last event it received', async () => {
    const runId = await start(await define(org, chain(5, 200)));
    const client = openSse(runUrl(runId), token());
    await client.waitFor((m) => m.length >= 3, 20_000, 'three events');
    app.get(SseConnections).closeAll(); // as an instance shutting down would
    await client.waitClosed(30_000);
    const log = await logOf(runId);
    expect(client.opens).toBe(2);
    expect(client.messages.map((m) => m.id)).toEqual(log.map((e) => e.id));
  });

  it('a finished run replays and ends; after its terminal event it answers 204; ?lastEventId= resumes like the header', async () => {
    const runId = await start(await define(org, chain(2, 10)));
    await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    const log = await logOf(runId);

    const all = await readAll(runUrl(runId));
    expect(all.status).toBe(200);
    expect(all.body.startsWith('retry: ')).toBe(true);
    expect(all.ids).toEqual(log.map((e) => e.id));

    const rest = await readAll(runUrl(runId, `?lastEventId=${log[2].id}`));
    expect(rest.ids).toEqual(log.slice(3).map((e) => e.id));
    const viaHeader = await readAll(runUrl(runId, `?lastEventId=${log[0].id}`), org, { 'Last-Event-ID': log[2].id });
    expect(viaHeader.ids).toEqual(rest.ids); // the header (what EventSource sends) wins over the query

    const done = await readAll(runUrl(runId), org, { 'Last-Event-ID': log[log.length - 1].id });
    expect(done.status).toBe(204);

    const filtered = await readAll(runUrl(runId, '?types=step.completed,run.completed'));
    expect(filtered.types).toEqual(log.filter((e) => e.type === 'step.completed' || e.type === 'run.completed').map((e) => e.type));
  });

  it("rejects an unknown Last-Event-ID or event type (400) and another organization's run (404)", async () => {
    const runId = await start(await define(org, chain(1, 10)));
    const otherRun = await start(await define(other, chain(1, 10)), other);
    await waitForRun(app, org.users.viewer.token, runId, ['completed']);
    await waitForRun(app, other.users.viewer.token, otherRun, ['completed']);
    const otherEvent = (await logOf(otherRun, other))[0].id;
    const statusOf = async (url: string, o = org, headers: Record<string, string> = {}) => {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token(o)}`, ...headers } });
      const body = (await response.json()) as { statusCode: number; message: string };
      return { status: response.status, body };
    };
    expect((await statusOf(runUrl(otherRun))).status).toBe(404);
    expect((await statusOf(runUrl(runId), org, { 'Last-Event-ID': otherEvent })).body).toMatchObject({
      statusCode: 400,
      message: expect.stringContaining(otherEvent),
    });
    expect((await statusOf(runUrl(runId, '?lastEventId=99999999999999999999'))).status).toBe(400);
    expect((await statusOf(runUrl(runId, '?types=step.exploded'))).body).toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('event type'),
    });
    expect((await statusOf(`${base}/orchestrations/stream`, org, { 'Last-Event-ID': otherEvent })).status).toBe(400);
    expect((await fetch(runUrl(runId))).status).toBe(401);
  });

  it("the organization stream delivers exactly the organization's events in commit order across a reconnect, filtered by types", async () => {
    const fresh = await createTestOrganization(app, ds, 'sse-org');
    const orgUrl = `${base}/orchestrations/stream`;
    const first = openSse(orgUrl, token(fresh));
    const filtered = openSse(`${orgUrl}?types=run.completed,step.*`, token(fresh));
    await waitFor(async () => first.opens === 1 && filtered.opens === 1, 10_000, 'both streams to open');

    const fanOut = await define(fresh, [
      { key: 'a', agent: 'sleep', input: { ms: 50 } },
      ...Array.from({ length: 6 }, (_, i) => ({ key: `b${i}`, agent: 'sleep', dependsOn: ['a'], input: { ms: 100 + i * 20 } })),
      { key: 'c', agent: 'echo', dependsOn: ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'], input: {} },
    ]);
    const noise = start(await define(other, chain(3, 50)), other);
    const runs = await Promise.all([start(fanOut, fresh), start(fanOut, fresh), start(fanOut, fresh)]);
    await first.waitFor((m) => m.length >= 10, 20_000, 'ten events');
    first.close();
    const before = [...first.messages];
    await sleep(300);
    const resumed = openSse(orgUrl, token(fresh), { lastEventId: before[before.length - 1].id });
    for (const runId of runs) await waitForRun(app, fresh.users.viewer.token, runId, ['completed']);
    await noise;

    const expected: { id: string; type: string }[] = await ds.query(
      `SELECT e.id::text AS id, e.type FROM orchestration_events e WHERE e.organization_id = $1 ORDER BY e.tx_id, e.id`,
      [fresh.id],
    );
    const seen = () => [...before, ...resumed.messages];
    await waitFor(async () => seen().length >= expected.length, 10_000, 'the resumed stream to catch up');
    await waitFor(
      async () => filtered.messages.length >= expected.filter((e) => e.type === 'run.completed' || e.type.startsWith('step.')).length,
      10_000,
      'the filtered stream',
    );
    await sleep(300); // nothing more may arrive
    expect(seen().map((m) => m.id)).toEqual(expected.map((e) => e.id));
    expect(filtered.messages.map((m) => m.id)).toEqual(
      expected.filter((e) => e.type === 'run.completed' || e.type.startsWith('step.')).map((e) => e.id),
    );
    expect(new Set(seen().map((m) => m.data.runId))).toEqual(new Set(runs));
    resumed.close();
    filtered.close();
  });
});
