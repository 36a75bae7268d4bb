/**
 * Persistent conversations (docs/conversations.md) on a real PostgreSQL: A2A messages and their answers form one
 * ordered history per contextId, which outlives the process (a second app on the same database reads and continues
 * it), ages active -> idle -> expired by the configured TTLs, keeps per-agent state under optimistic locking, and
 * stays gapless under concurrent appends. Another organization's context is 404.
 */
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '#config';
import { ConversationsService } from '#conversations';
import type { DefinitionSpec } from '#core';
import { createApp } from '../apps/api/src/bootstrap.js';
import { ConversationAnswers } from '../apps/api/src/conversations/conversation-answers.js';
import {
  createTestOrganization,
  insertDefinition,
  openTestDataSource,
  testConfig,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';

interface HistoryItem {
  seq: number;
  role: string;
  parts: { text?: string; data?: unknown }[];
  taskId: string | null;
  messageId: string | null;
}
interface Detail {
  contextId: string;
  state: string;
  messageCount: number;
  idleAt: string | null;
  expiredAt: string | null;
  history: { items: HistoryItem[]; nextAfter: number | null };
}
type Rpc = { result?: { task?: { id: string; contextId: string; status: { state: string } } }; error?: { code: number; message: string } };

const METRICS_TOKEN = 'conversations-metrics-token';
const onExit: (() => Promise<void>)[] = [];
const ECHO: DefinitionSpec['steps'] = [{ key: 'reply', agent: 'echo', input: { text: '{{ input.text }}' } }];

describe('persistent conversations (e2e)', () => {
  let ds: DataSource;
  let app: INestApplication;
  let base: string;
  let org: TestOrganization;
  let other: TestOrganization;
  let slug: string;

  const start = async (config: Partial<AppConfig> = {}) => {
    const started = await createApp(testConfig({ pollIntervalMs: 200, ...config }));
    await started.listen(0, '127.0.0.1');
    return { app: started, base: `http://127.0.0.1:${(started.getHttpServer().address() as AddressInfo).port}` };
  };

  const send = async (at: string, text: string, contextId?: string, token = org.users.operator.token, agent = slug): Promise<Rpc> => {
    const res = await fetch(`${at}/a2a/${agent}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'A2A-Version': '1.0' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'SendMessage',
        params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text }], ...(contextId ? { contextId } : {}) } },
      }),
    });
    return (await res.json()) as Rpc;
  };

  const rpcCall = async (at: string, agent: string, token: string, params: unknown): Promise<Rpc> => {
    const res = await fetch(`${at}/a2a/${agent}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'A2A-Version': '1.0' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params }),
    });
    return (await res.json()) as Rpc;
  };

  const detail = (target: INestApplication, contextId: string, query = '', token = org.users.viewer.token) =>
    request(target.getHttpServer())
      .get(`/conversations/${encodeURIComponent(contextId)}${query}`)
      .set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    ds = await openTestDataSource();
    ({ app, base } = await start());
    org = await createTestOrganization(app, ds, 'conv');
    other = await createTestOrganization(app, ds, 'conv-other');
    slug = `conv-echo-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, { slug, name: 'Echo', steps: ECHO });
  });

  afterAll(async () => {
    for (const close of onExit) await close();
    await app?.close();
    await ds?.destroy();
  });

  it('keeps two A2A messages of one context and their answers in order, and the history survives a restart', async () => {
    const contextId = `ctx-${randomUUID()}`;
    const first = await send(base, 'hello', contextId);
    expect(first.result?.task?.status.state).toBe('TASK_STATE_COMPLETED');
    expect(first.result?.task?.contextId).toBe(contextId);
    const second = await send(base, 'again', contextId);
    expect(second.result?.task?.status.state).toBe('TASK_STATE_COMPLETED');

    const res = await detail(app, contextId).expect(200);
    const body = res.body as Detail;
    expect(body).toMatchObject({ contextId, state: 'active', messageCount: 4 });
    const items = body.history.items;
    expect(items.map((m) => [m.seq, m.role, m.taskId])).toEqual([
      [1, 'user', first.result?.task?.id],
      [2, 'agent', first.result?.task?.id],
      [3, 'user', second.result?.task?.id],
      [4, 'agent', second.result?.task?.id],
    ]);
    expect(items[0].parts).toEqual([expect.objectContaining({ text: 'hello' })]);
    expect(items[2].parts).toEqual([expect.objectContaining({ text: 'again' })]);
    expect(items[3].parts).toContainEqual(expect.objectContaining({ data: expect.anything() }));

    // Pagination by seq.
    const page = (await detail(app, contextId, '?limit=2')).body as Detail;
    expect(page.history.items.map((m) => m.seq)).toEqual([1, 2]);
    expect(page.history.nextAfter).toBe(2);
    const rest = (await detail(app, contextId, `?after=${page.history.nextAfter}&limit=2`)).body as Detail;
    expect(rest.history.items.map((m) => m.seq)).toEqual([3, 4]);

    // Close the process; a new one on the same database has the whole conversation and continues it.
    await app.close();
    ({ app, base } = await start());
    const after = (await detail(app, contextId)).body as Detail;
    expect(after.history.items).toEqual(items);
    const third = await send(base, 'after restart', contextId);
    expect(third.result?.task?.status.state).toBe('TASK_STATE_COMPLETED');
    const continued = (await detail(app, contextId, '?after=4')).body as Detail;
    expect(continued.history.items.map((m) => [m.seq, m.role])).toEqual([
      [5, 'user'],
      [6, 'agent'],
    ]);
  });

  it('records a checkpoint prompt, the decision and the final answer; and the answer of a message stream', async () => {
    const approvalSlug = `conv-approval-${Date.now().toString(36)}`;
    await insertDefinition(ds, org.id, {
      slug: approvalSlug,
      name: 'Approve',
      steps: [
        { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}' }, approval: { prompt: 'Publish?' } },
        { key: 'side', agent: 'sleep', input: { ms: 300 } },
        { key: 'publish', agent: 'echo', dependsOn: ['draft', 'side'], input: { text: '{{ steps.draft.output.text }}' } },
      ],
    });
    const contextId = `approval-${randomUUID()}`;
    const paused = await send(base, 'draft me', contextId, org.users.operator.token, approvalSlug);
    expect(paused.result?.task?.status.state).toBe('TASK_STATE_INPUT_REQUIRED');
    const taskId = paused.result?.task?.id as string;
    // The run logs more (the side step finishes) while it waits at the same checkpoint: the prompt is not repeated.
    await waitFor(
      async () => {
        const [row] = await ds.query(`SELECT status FROM orchestration_steps WHERE run_id = $1 AND step_key = 'side'`, [taskId]);
        return row?.status === 'completed';
      },
      20_000,
      'the side step',
    );
    await app.get(ConversationAnswers).sweep();
    expect(((await detail(app, contextId)).body as Detail).messageCount).toBe(2);
    const decided = await rpcCall(base, approvalSlug, org.users.approver.token, {
      message: { messageId: randomUUID(), role: 'ROLE_USER', taskId, parts: [{ data: { decision: 'continue', comment: 'ok' } }] },
    });
    expect(decided.result?.task?.status.state).toBe('TASK_STATE_COMPLETED');
    const items = ((await detail(app, contextId)).body as Detail).history.items;
    expect(items.map((m) => [m.seq, m.role])).toEqual([
      [1, 'user'],
      [2, 'agent'],
      [3, 'user'],
      [4, 'agent'],
    ]);
    expect(items[1].parts).toContainEqual(expect.objectContaining({ text: 'Publish?' }));
    expect(items[1].parts).toContainEqual(
      expect.objectContaining({ data: expect.objectContaining({ type: 'orchestration.approval', stepKey: 'draft' }) }),
    );
    expect(items[2].parts).toEqual([expect.objectContaining({ data: { decision: 'continue', comment: 'ok' } })]);
    expect(items.every((m) => m.taskId === taskId)).toBe(true);

    const streamed = `stream-${randomUUID()}`;
    const res = await fetch(`${base}/a2a/${slug}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${org.users.operator.token}`, 'A2A-Version': '1.0' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'SendStreamingMessage',
        params: { message: { messageId: randomUUID(), role: 'ROLE_USER', contextId: streamed, parts: [{ text: 'streamed' }] } },
      }),
    });
    expect(await res.text()).toContain('TASK_STATE_COMPLETED');
    // Recorded before the stream ended.
    expect(((await detail(app, streamed)).body as Detail).history.items.map((m) => m.role)).toEqual(['user', 'agent']);
  });

  it('lists conversations by state, and hides them from other organizations (404)', async () => {
    const contextId = `ctx-${randomUUID()}`;
    await send(base, 'mine', contextId);
    const list = await request(app.getHttpServer())
      .get('/conversations?state=active&limit=200')
      .set('Authorization', `Bearer ${org.users.viewer.token}`)
      .expect(200);
    expect((list.body.items as { contextId: string }[]).map((c) => c.contextId)).toContain(contextId);
    expect(list.body.total).toBeGreaterThanOrEqual(1);
    const theirs = await request(app.getHttpServer())
      .get('/conversations')
      .set('Authorization', `Bearer ${other.users.viewer.token}`)
      .expect(200);
    expect((theirs.body.items as { contextId: string }[]).map((c) => c.contextId)).not.toContain(contextId);

    await detail(app, contextId, '', other.users.viewer.token).expect(404);
    await request(app.getHttpServer())
      .delete(`/conversations/${contextId}`)
      .set('Authorization', `Bearer ${other.users.operator.token}`)
      .expect(404);
    await request(app.getHttpServer())
      .put(`/conversations/${contextId}/agents/echo/state`)
      .set('Authorization', `Bearer ${other.users.operator.token}`)
      .send({ state: { x: 1 }, version: 0 })
      .expect(404);
    // The same contextId in another organization is another conversation.
    await insertDefinition(ds, other.id, { slug, name: 'Echo', steps: ECHO });
    await send(base, 'theirs', contextId, other.users.operator.token);
    expect(((await detail(app, contextId, '', other.users.viewer.token)).body as Detail).messageCount).toBe(2);
    expect(((await detail(app, contextId)).body as Detail).messageCount).toBe(2);
    expect(((await detail(app, contextId)).body as Detail).history.items[0].parts[0].text).toBe('mine');
  });

  it('starts a REST run in a context: its input and (from the job) its answer join the history', async () => {
    const contextId = `rest-${randomUUID()}`;
    const res = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: slug, input: { text: 'over REST' }, contextId })
      .expect(201);
    await waitForRun(app, org.users.viewer.token, res.body.id, ['completed']);
    const body = await waitFor(
      async () => {
        const d = (await detail(app, contextId)).body as Detail;
        return d.messageCount === 2 ? d : null;
      },
      20_000,
      'the answer in the history',
    );
    expect(body.history.items.map((m) => [m.role, m.taskId])).toEqual([
      ['user', res.body.id],
      ['agent', res.body.id],
    ]);
    expect(body.history.items[0].parts).toEqual([expect.objectContaining({ data: { text: 'over REST' } })]);
    // The engine's hook for `{{ context.history }}`: the recent history of the run's context.
    expect((await app.get(ConversationsService).recentForRun(org.id, res.body.id, 1)).map((m) => m.seq)).toEqual([2]);
    expect(await app.get(ConversationsService).recentForRun(other.id, res.body.id, 10)).toEqual([]);
    // Over A2A, the REST run is a task of that context.
    const listed = (await (
      await fetch(`${base}/a2a/${slug}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${org.users.viewer.token}`, 'A2A-Version': '1.0' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ListTasks', params: { contextId } }),
      })
    ).json()) as { result: { tasks: { id: string; contextId: string }[] } };
    expect(listed.result.tasks).toEqual([expect.objectContaining({ id: res.body.id, contextId })]);
  });

  it('keeps agent state under optimistic locking: ETag, If-Match, and a stale write is 409 with the current version', async () => {
    const contextId = `state-${randomUUID()}`;
    await send(base, 'state please', contextId);
    const path = `/conversations/${contextId}/agents/researcher/state`;
    const http = () => request(app.getHttpServer());
    const empty = await http().get(path).set('Authorization', `Bearer ${org.users.viewer.token}`).expect(200);
    expect(empty.body).toMatchObject({ contextId, agent: 'researcher', state: null, version: 0 });
    expect(empty.headers.etag).toBe('"0"');

    const created = await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ state: { notes: ['a'] }, version: 0 })
      .expect(200);
    expect(created.body).toMatchObject({ state: { notes: ['a'] }, version: 1 });
    expect(created.headers.etag).toBe('"1"');
    const read = await http().get(path).set('Authorization', `Bearer ${org.users.viewer.token}`).expect(200);
    expect(read.headers.etag).toBe('"1"');

    const updated = await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .set('If-Match', read.headers.etag)
      .send({ state: { notes: ['a', 'b'] } })
      .expect(200);
    expect(updated.body.version).toBe(2);

    const stale = await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .set('If-Match', '"1"')
      .send({ state: { notes: ['lost'] } })
      .expect(409);
    expect(stale.body).toMatchObject({ statusCode: 409, error: 'Conflict', details: { currentVersion: 2, expectedVersion: 1 } });
    const again = await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ state: { x: 1 }, version: 0 })
      .expect(409);
    expect(again.body.details.currentVersion).toBe(2);
    await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ state: { x: 1 } })
      .expect(400);
    await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .set('If-Match', '"2"')
      .send({ state: { x: 1 }, version: 1 })
      .expect(400);
    await http()
      .put(path)
      .set('Authorization', `Bearer ${org.users.viewer.token}`)
      .send({ state: { x: 1 }, version: 2 })
      .expect(403);

    // Concurrent writers from one version: exactly one wins, the others are told the version it wrote.
    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        http()
          .put(path)
          .set('Authorization', `Bearer ${org.users.operator.token}`)
          .send({ state: { racer: i }, version: 2 }),
      ),
    );
    expect(racers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    for (const r of racers.filter((x) => x.status === 409)) expect(r.body.details.currentVersion).toBe(3);

    await http()
      .get(`/conversations/nope-${randomUUID()}/agents/researcher/state`)
      .set('Authorization', `Bearer ${org.users.viewer.token}`)
      .expect(404);
  });

  it('assigns gapless seqs to concurrent appends, and appends a repeated messageId once', async () => {
    const service = app.get(ConversationsService);
    const contextId = `concurrent-${randomUUID()}`;
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        service.recordUserMessage(org.id, contextId, { runId: null, messageId: `m-${i}`, parts: [{ text: String(i) }] }),
      ),
    );
    await service.recordUserMessage(org.id, contextId, { runId: null, messageId: 'm-7', parts: [{ text: 'duplicate' }] });
    const body = (await detail(app, contextId, '?limit=500')).body as Detail;
    expect(body.messageCount).toBe(n);
    expect(body.history.items.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(body.history.items.map((m) => Number(m.parts[0].text)).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('keeps one context gapless and each task ordered under concurrent A2A messages from two processes', async () => {
    const second = await start();
    onExit.push(() => second.app.close());
    const contextId = `parallel-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(i % 2 ? second.base : base, `parallel ${i}`, contextId)));
    expect(answers.map((a) => a.result?.task?.status.state)).toEqual(Array(8).fill('TASK_STATE_COMPLETED'));
    const items = ((await detail(app, contextId)).body as Detail).history.items;
    expect(items.map((m) => m.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    for (const answer of answers) {
      const mine = items.filter((m) => m.taskId === answer.result?.task?.id).map((m) => m.role);
      expect(mine).toEqual(['user', 'agent']);
    }
  });

  it('expires a conversation on DELETE: history and state are gone, and its contextId takes no more messages', async () => {
    const contextId = `delete-${randomUUID()}`;
    await send(base, 'short-lived', contextId);
    await request(app.getHttpServer())
      .put(`/conversations/${contextId}/agents/echo/state`)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ state: { k: 1 }, version: 0 })
      .expect(200);
    await request(app.getHttpServer())
      .delete(`/conversations/${contextId}`)
      .set('Authorization', `Bearer ${org.users.viewer.token}`)
      .expect(403);
    const expired = await request(app.getHttpServer())
      .delete(`/conversations/${contextId}`)
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .expect(200);
    expect(expired.body).toMatchObject({ contextId, state: 'expired' });
    expect(expired.body.expiredAt).not.toBeNull();
    const body = (await detail(app, contextId)).body as Detail;
    expect(body.history.items).toEqual([]);
    const state = await request(app.getHttpServer())
      .get(`/conversations/${contextId}/agents/echo/state`)
      .set('Authorization', `Bearer ${org.users.viewer.token}`)
      .expect(200);
    expect(state.body.version).toBe(0);

    const refused = await send(base, 'too late', contextId);
    expect(refused.error?.code).toBe(-32602);
    expect(refused.error?.message).toContain('expired');
    await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set('Authorization', `Bearer ${org.users.operator.token}`)
      .send({ definition: slug, input: { text: 'x' }, contextId })
      .expect(409);
  });

  it('reports conversations by state as a Prometheus gauge', async () => {
    await send(base, 'counted', `metrics-${randomUUID()}`);
    const { app: metricsApp } = await start({ metricsToken: METRICS_TOKEN });
    onExit.push(() => metricsApp.close());
    const text = (await request(metricsApp.getHttpServer()).get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200))
      .text;
    expect(text).toMatch(/^baton_conversations\{state="active"\} [1-9]\d*$/m);
    expect(text).toMatch(/^baton_conversations\{state="expired"\} \d+$/m);
  });

  describe('with small TTLs', () => {
    let ttlApp: INestApplication;
    let ttlBase: string;

    beforeAll(async () => {
      ({ app: ttlApp, base: ttlBase } = await start({ conversationIdleMs: 400, conversationExpireMs: 8000, conversationSweepMs: 100 }));
    });

    afterAll(async () => {
      await ttlApp?.close();
    });

    it('turns a quiet conversation idle, active again on a message, then expired (history deleted)', async () => {
      // Messages without runs, written by this instance only: an expiry is pushed back by whichever instance records
      // an answer, with its own TTL, and the other apps on this database (this file's, other suites') have long ones.
      const service = ttlApp.get(ConversationsService);
      const say = (text: string) => service.recordUserMessage(org.id, contextId, { runId: null, messageId: null, parts: [{ text }] });
      const contextId = `ttl-${randomUUID()}`;
      await say('tick');
      const idle = await waitFor(
        async () => {
          const d = (await detail(ttlApp, contextId)).body as Detail;
          return d.state === 'idle' ? d : null;
        },
        7_000,
        'idle',
      );
      expect(idle.idleAt).not.toBeNull();
      expect(idle.messageCount).toBe(1);

      await say('tock');
      const active = (await detail(ttlApp, contextId)).body as Detail;
      expect(active).toMatchObject({ state: 'active', idleAt: null, messageCount: 2 });

      const expired = await waitFor(
        async () => {
          const d = (await detail(ttlApp, contextId)).body as Detail;
          return d.state === 'expired' ? d : null;
        },
        30_000,
        'expired',
      );
      // The sweep turns a quiet conversation idle before it expires it.
      expect(expired.idleAt).not.toBeNull();
      expect(expired.expiredAt).not.toBeNull();
      expect(expired.history.items).toEqual([]);
      expect((await send(ttlBase, 'too late', contextId)).error?.code).toBe(-32602);
    });
  });
});
