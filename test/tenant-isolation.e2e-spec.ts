/**
 * Tenant isolation, generated from the OpenAPI document like the roles matrix: organization A owns one of
 * everything (definitions, a finished run with deliverables and an asset, a run waiting at an approval, events,
 * a webhook with deliveries, an agent, an API key, users, audit entries, A2A tasks), then organization B's admin,
 * by JWT and by API key, calls EVERY operation of the document with A's ids in the path (404, never 403, never
 * a 2xx), every list and create with A's ids in the query and body (nothing of A in the answer), the SSE streams,
 * the WebSocket and the A2A endpoint; B's webhook receiver, B's organization SSE stream and B's WebSocket, open
 * while A's runs go, never see one of A's events. Afterwards A's resources are as they were.
 *
 * A new operation whose path parameter has no id of A below (ids) fails the suite, so new routes are covered.
 */
import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { ArtifactsRepository } from '#persistence';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createTestOrganization,
  openScratchDatabase,
  openSse,
  testConfig,
  waitFor,
  waitForRun,
  type ScratchDatabase,
  type SseSubscriber,
  type TestOrganization,
} from '#testing';

interface Operation {
  parameters?: { name: string; in: string; schema?: { type?: string } }[];
  'x-baton-access'?: string[];
}
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const MARK = `tenant-a-secret-${randomUUID()}`;
const DEADLINE_MS = 10_000;

/** A webhook receiver that keeps every body it is sent (signatures checked by the webhooks suite). */
class Receiver {
  readonly bodies: string[] = [];
  private server?: Server;
  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/hook`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('tenant isolation on every operation (e2e)', () => {
  let scratch: ScratchDatabase;
  let app: INestApplication;
  let base: string;
  let a: TestOrganization;
  let b: TestOrganization;
  let bKey: string;
  let operations: { method: string; path: string; operation: Operation }[];
  const receiverA = new Receiver();
  const receiverB = new Receiver();
  let sseB: SseSubscriber;
  let wsB: WebSocket;
  const wsFrames: { type: string; subscription: string | null; data?: { runId: string }; error?: { statusCode: number } }[] = [];

  /** A's ids, by the path parameter (and path prefix) they fill. */
  const ids = {
    doneRun: '',
    waitingRun: '',
    approval: '',
    webhook: '',
    delivery: '',
    apiKey: '',
    asset: '',
    event: '',
    agent: `iso-agent-${randomUUID().slice(0, 8)}`,
    doneFlow: `iso-done-${randomUUID().slice(0, 8)}`,
    gateFlow: `iso-gate-${randomUUID().slice(0, 8)}`,
    context: `iso-ctx-${randomUUID().slice(0, 8)}`,
  };
  /** Everything of A that must never appear in an answer to B. */
  let markers: string[] = [];

  const call = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), DEADLINE_MS);
    try {
      const res = await fetch(base + path, {
        method,
        signal: controller.signal,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // a stream that answered 200 would never end: read what came within a moment, then stop
      const text = res.headers.get('content-type')?.includes('text/event-stream')
        ? await Promise.race([res.text(), new Promise<string>((r) => setTimeout(() => r(''), 500))])
        : await res.text();
      return { status: res.status, text };
    } catch (error) {
      return { status: -1, text: String(error) };
    } finally {
      controller.abort();
      clearTimeout(timer);
    }
  };
  const asA = (method: string, path: string, body?: unknown) => call(method, path, a.users.admin.token, body);

  /** A definition; A's carry MARK in their inputs and prompts, B's do not. */
  const definition = (slug: string, gate: boolean, secret = 'b-only') => ({
    slug,
    name: slug,
    steps: [
      { key: 'first', agent: 'echo', input: { secret } },
      gate
        ? { key: 'gate', type: 'approval', dependsOn: ['first'], input: { secret }, approval: { prompt: secret } }
        : { key: 'second', agent: 'echo', dependsOn: ['first'], input: { n: 2 } },
    ],
  });

  const startRun = async (org: TestOrganization, slug: string) => {
    const res = await call('POST', '/orchestrations/runs', org.users.operator.token, {
      definition: slug,
      input: { secret: org === a ? MARK : 'b' },
    });
    expect(res.status).toBe(201);
    return (JSON.parse(res.text) as { id: string }).id;
  };

  beforeAll(async () => {
    scratch = await openScratchDatabase('tenant_isolation');
    app = await createApp(
      testConfig({ databaseUrl: scratch.url, pollIntervalMs: 100, webhookRetryDelayMs: 100, webhookMaxRetryDelayMs: 400 }),
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    a = await createTestOrganization(app, scratch.dataSource, 'iso-a');
    b = await createTestOrganization(app, scratch.dataSource, 'iso-b');
    bKey = JSON.parse((await call('POST', '/api-keys', b.users.admin.token, { name: 'b-admin', role: 'admin' })).text).key;

    // B listens everywhere before A does anything
    const hookB = await call('POST', '/webhooks', b.users.admin.token, { url: await receiverB.listen() });
    expect(hookB.status).toBe(201);
    sseB = openSse(`${base}/orchestrations/stream`, b.users.viewer.token);
    wsB = new WebSocket(`${base.replace('http', 'ws')}/orchestrations/ws`, {
      headers: { Authorization: `Bearer ${b.users.viewer.token}` },
    });
    wsB.on('message', (data) => wsFrames.push(JSON.parse(String(data)) as (typeof wsFrames)[number]));
    await new Promise((resolve, reject) => (wsB.once('open', resolve), wsB.once('error', reject)));
    wsB.send(JSON.stringify({ action: 'subscribe', id: 'org' }));
    await waitFor(async () => wsFrames.some((f) => f.subscription === 'org' && f.type === 'subscribed'), 10_000, 'B socket subscribed');

    // A's world
    const hookA = await asA('POST', '/webhooks', { url: await receiverA.listen(), description: MARK });
    expect(hookA.status).toBe(201);
    ids.webhook = JSON.parse(hookA.text).id;
    for (const [slug, gate] of [
      [ids.doneFlow, false],
      [ids.gateFlow, true],
    ] as const)
      expect((await asA('POST', '/orchestrations/definitions', definition(slug, gate, MARK))).status).toBe(201);
    const agent = await asA('POST', '/agents', {
      slug: ids.agent,
      name: MARK,
      type: 'function',
      capabilities: ['translate'],
      config: { mode: 'ok' },
    });
    expect(agent.status).toBe(201);
    const key = await asA('POST', '/api-keys', { name: MARK, role: 'viewer' });
    expect(key.status).toBe(201);
    ids.apiKey = JSON.parse(key.text).id;

    ids.doneRun = await startRun(a, ids.doneFlow);
    // A conversation of A, with agent state: its contextId must be a stranger to B.
    expect((await call('POST', '/orchestrations/runs', a.users.operator.token, { definition: ids.doneFlow, input: { secret: MARK }, contextId: ids.context })).status).toBe(201);
    expect((await asA('PUT', `/conversations/${ids.context}/agents/${ids.agent}/state`, { state: { secret: MARK }, version: 0 })).status).toBe(200);
    ids.waitingRun = await startRun(a, ids.gateFlow);
    await waitForRun(app, a.users.viewer.token, ids.doneRun, ['completed']);
    await waitForRun(app, a.users.viewer.token, ids.waitingRun, ['awaiting_approval']);
    const approvals = JSON.parse((await asA('GET', `/orchestrations/approvals?run=${ids.waitingRun}`)).text) as { items: { id: string }[] };
    ids.approval = approvals.items[0].id;
    const events = JSON.parse((await asA('GET', `/orchestrations/runs/${ids.doneRun}/events`)).text) as { items: { id: string }[] };
    ids.event = events.items[0].id;

    const artifacts = app.get(ArtifactsRepository);
    const origin = { runId: ids.doneRun, stepKey: 'first', attempt: 1, agentSlug: 'echo' };
    const asset = await artifacts.saveAsset(a.id, origin, { filename: 'a.txt', mediaType: 'text/plain', bytes: Buffer.from(MARK) });
    ids.asset = asset.id;
    await artifacts.createDeliverable(a.id, origin, { kind: 'report', title: MARK, content: MARK, data: null, assetIds: [asset.id] });

    ids.delivery = await waitFor(
      async () => {
        const page = JSON.parse((await asA('GET', `/webhooks/${ids.webhook}/deliveries`)).text) as { items: { id: string }[] };
        return page.items[0]?.id;
      },
      15_000,
      "A's webhook deliveries",
    );

    // event ids are small integers (B's own events share them): A's runs stand for them
    markers = [
      MARK,
      a.id,
      a.slug,
      ...Object.entries(ids).flatMap(([name, value]) => (name === 'event' ? [] : [value])),
      ...Object.values(a.users).flatMap((u) => [u.id, u.email]),
    ];

    const doc = JSON.parse((await call('GET', '/docs-json', b.users.viewer.token)).text) as {
      paths: Record<string, Record<string, Operation>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, operation: item[m] })),
    );
  }, 120_000);

  afterAll(async () => {
    sseB?.close();
    wsB?.close();
    await Promise.all([receiverA.close(), receiverB.close()]);
    await app?.close();
    await scratch?.drop();
  });

  /** The value of A to put in a path parameter; undefined when the suite does not know one (a new route: add it). */
  function idOf(path: string, name: string, variant: number): string | undefined {
    if (name === 'key') return variant === 0 ? 'first' : 'gate';
    if (name === 'deliveryId') return ids.delivery;
    if (name === 'contextId') return ids.context;
    if (name === 'slug') {
      if (path.startsWith('/agents') || path.startsWith('/conversations')) return ids.agent;
      if (path.startsWith('/orchestrations/definitions') || path.startsWith('/a2a')) return variant === 0 ? ids.doneFlow : ids.gateFlow;
      return undefined;
    }
    if (name !== 'id') return undefined;
    const prefixes: [string, string][] = [
      ['/orchestrations/runs/', variant === 0 ? ids.doneRun : ids.waitingRun],
      ['/orchestrations/approvals/', ids.approval],
      ['/webhooks/', ids.webhook],
      ['/api-keys/', ids.apiKey],
      ['/users/', variant === 0 ? a.users.viewer.id : a.users.admin.id],
      ['/assets/', ids.asset],
    ];
    return prefixes.find(([prefix]) => path.startsWith(prefix))?.[1];
  }

  /** Bodies that pass validation, so the call reaches the organization's lookup (a 400 would prove nothing). */
  function bodyOf(method: string, path: string): unknown {
    if (method === 'GET' || method === 'DELETE') return undefined;
    if (path.endsWith('/decision')) return { decision: 'continue', comment: 'from B' };
    if (path.startsWith('/users/')) return { role: 'admin' };
    if (path === '/agents/{slug}')
      return { slug: ids.agent, name: 'hijacked', type: 'function', capabilities: ['translate'], config: { mode: 'ok' } };
    if (path === '/orchestrations/definitions/{slug}') return { ...definition('x', false), slug: '{slug}', name: 'hijacked' };
    if (path.startsWith('/a2a/')) return { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: ids.doneRun } };
    if (path.endsWith('/state')) return { state: { from: 'B' }, version: 1 };
    return {};
  }

  const leaks = (text: string) => markers.filter((m) => m && text.includes(m));

  it('finds the operations in the document', () => {
    expect(operations.length).toBeGreaterThan(30);
  });

  it("answers 404 to B for every operation named with one of A's ids, and tells nothing of A", async () => {
    const failures: string[] = [];
    let calls = 0;
    const named = operations.filter(({ path }) => /\{\w+\}/.test(path));
    for (const { method, path } of named) {
      for (const variant of [0, 1]) {
        const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const values = names.map((name) => idOf(path, name, variant));
        if (values.some((v) => v === undefined)) {
          failures.push(`${method} ${path}: no id of organization A for {${names[values.indexOf(undefined)]}} (add it to idOf)`);
          break;
        }
        let url = path;
        names.forEach((name, i) => (url = url.replace(`{${name}}`, encodeURIComponent(values[i] as string))));
        if (path.endsWith('/diff')) url += '?from=1&to=1';
        const raw = bodyOf(method, path);
        const body = raw === undefined ? undefined : JSON.parse(JSON.stringify(raw).replaceAll('{slug}', values[0] as string));
        const headers: Record<string, string> = path.startsWith('/a2a/') ? { 'A2A-Version': '1.0' } : {};
        for (const [who, token] of [
          ['B admin', b.users.admin.token],
          ['B admin API key', bKey],
        ]) {
          const res = await call(method, url, token, body, headers);
          calls++;
          if (res.status !== 404) failures.push(`${method} ${url} as ${who}: ${res.status} ${res.text.slice(0, 200)}`);
          const leaked = leaks(res.text.replaceAll(url, '').replace(/"(instance|path)":"[^"]*"/g, ''));
          // the 404 may repeat the id it was asked for; anything else of A is a leak
          const asked = new Set(values as string[]);
          const other = leaked.filter((m) => !asked.has(m));
          if (other.length) failures.push(`${method} ${url} as ${who}: answer shows ${other.join(', ')}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(100);
  }, 180_000);

  it("shows nothing of A in B's lists and creates, even with A's ids in the query or body", async () => {
    const failures: string[] = [];
    const plain = operations.filter(({ path }) => !/\{\w+\}/.test(path));
    const values = [ids.doneRun, ids.waitingRun, ids.doneFlow, ids.webhook, ids.agent, a.slug, a.id];
    for (const { method, path, operation } of plain) {
      const queries = [''];
      if (method === 'GET')
        for (const p of operation.parameters?.filter((q) => q.in === 'query') ?? [])
          for (const v of values) queries.push(`?${p.name}=${encodeURIComponent(v)}`);
      for (const query of queries) {
        const body = method === 'GET' ? undefined : bodyForCreate(path);
        const res = await call(method, path + query, b.users.admin.token, body);
        if (res.status >= 500 || res.status < 0) failures.push(`${method} ${path}${query}: ${res.status}`);
        // what B sent may come back (a 404 naming the slug it asked for); anything else of A is a leak
        const sent = [decodeURIComponent(query.slice(query.indexOf('=') + 1)), ...stringsOf(body)].filter(Boolean);
        const leaked = leaks(sent.reduce((text, s) => text.replaceAll(s, ''), res.text));
        if (leaked.length) failures.push(`${method} ${path}${query}: answer shows ${leaked.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
    // and the ones that name A's things must not act on them
    expect((await call('POST', '/orchestrations/runs', b.users.operator.token, { definition: ids.doneFlow })).status).toBe(404);
    const foreignOrg = await call('POST', '/users', b.users.admin.token, {
      email: `x-${randomUUID()}@b.test`,
      password: 'correct-horse-battery',
      role: 'viewer',
      organization: a.slug,
    });
    expect([403, 404]).toContain(foreignOrg.status);
  }, 180_000);

  const stringsOf = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(stringsOf) : [];

  function bodyForCreate(path: string): unknown {
    switch (path) {
      case '/orchestrations/runs':
        return { definition: ids.doneFlow, input: {} };
      case '/orchestrations/definitions':
      case '/orchestrations/definitions/validate':
        return definition(`b-${randomUUID().slice(0, 8)}`, false);
      case '/agents':
        return {
          slug: `b-agent-${randomUUID().slice(0, 8)}`,
          name: 'b',
          type: 'function',
          capabilities: ['translate'],
          config: { mode: 'ok' },
        };
      case '/api-keys':
        return { name: 'b', role: 'viewer' };
      case '/users':
        return { email: `b-${randomUUID().slice(0, 8)}@b.test`, password: 'correct-horse-battery', role: 'viewer' };
      case '/webhooks':
        return { url: 'https://example.com/b' };
      case '/auth/login':
        return { email: a.users.admin.email, password: 'wrong-password' };
      default:
        return {};
    }
  }

  it("never streams A's events to B: run streams 404, the organization stream, the WebSocket and B's webhook stay clean", async () => {
    // A's runs went while B listened (beforeAll); one more A run and one B run now, so B's channels provably work
    const aRun = await startRun(a, ids.doneFlow);
    expect((await call('POST', '/orchestrations/definitions', b.users.admin.token, definition('b-flow', false))).status).toBe(201);
    const bRun = await startRun(b, 'b-flow');
    await waitForRun(app, a.users.viewer.token, aRun, ['completed']);
    await waitForRun(app, b.users.viewer.token, bRun, ['completed']);
    await sseB.waitFor((m) => m.some((e) => e.data.runId === bRun && e.type === 'run.completed'), 10_000, "B's run on B's stream");
    await waitFor(async () => wsFrames.some((f) => f.data?.runId === bRun), 10_000, "B's run on B's socket");
    await waitFor(async () => receiverB.bodies.some((body) => body.includes(bRun)), 15_000, "B's run at B's webhook");
    await waitFor(async () => receiverA.bodies.some((body) => body.includes(aRun)), 15_000, "A's run at A's webhook");

    const seen = [...sseB.messages.map((m) => JSON.stringify(m)), ...wsFrames.map((f) => JSON.stringify(f)), ...receiverB.bodies];
    const aRuns = [ids.doneRun, ids.waitingRun, aRun];
    expect(seen.filter((s) => aRuns.some((id) => s.includes(id)) || s.includes(MARK))).toEqual([]);
    expect(receiverA.bodies.some((body) => body.includes(bRun))).toBe(false);

    // run streams by id: SSE 404, WebSocket subscription error 404
    for (const id of aRuns) {
      expect((await call('GET', `/orchestrations/runs/${id}/stream`, b.users.viewer.token)).status).toBe(404);
      wsB.send(JSON.stringify({ action: 'subscribe', id: `run-${id}`, runId: id }));
      const frames = await waitFor(
        async () => {
          const mine = wsFrames.filter((f) => f.subscription === `run-${id}`);
          return mine.some((f) => f.type === 'error' || f.type === 'end') ? mine : null;
        },
        10_000,
        `the socket's answer for ${id}`,
      );
      expect(frames.find((f) => f.type === 'error')?.error?.statusCode).toBe(404);
      expect(frames.some((f) => f.type === 'event')).toBe(false);
    }
  }, 120_000);

  it("keeps A's tasks from B over A2A: GetTask, CancelTask, SubscribeToTask and SendMessage into A's task fail; ListTasks shows none", async () => {
    expect((await call('POST', '/orchestrations/definitions', b.users.admin.token, definition('b-a2a', false))).status).toBe(201);
    const rpc = (method: string, params: unknown) =>
      call('POST', '/a2a/b-a2a', b.users.admin.token, { jsonrpc: '2.0', id: 1, method, params }, { 'A2A-Version': '1.0' });
    for (const id of [ids.doneRun, ids.waitingRun]) {
      for (const [method, params] of [
        ['GetTask', { id }],
        ['CancelTask', { id }],
        ['SubscribeToTask', { id }],
        ['SendMessage', { message: { messageId: randomUUID(), role: 'ROLE_USER', taskId: id, parts: [{ text: 'hi' }] } }],
      ] as const) {
        const res = await rpc(method, params);
        expect(res.status).toBeLessThan(500);
        expect(res.text).toMatch(/"error"/);
        expect(leaks(res.text.replaceAll(id, ''))).toEqual([]);
      }
    }
    const list = await rpc('ListTasks', {});
    expect(list.status).toBe(200);
    expect(leaks(list.text)).toEqual([]);
  });

  it("leaves A's resources as they were", async () => {
    expect(JSON.parse((await asA('GET', `/orchestrations/runs/${ids.waitingRun}`)).text).status).toBe('awaiting_approval');
    expect(JSON.parse((await asA('GET', `/orchestrations/approvals/${ids.approval}`)).text).status).toBe('pending');
    expect((await asA('GET', `/webhooks/${ids.webhook}`)).status).toBe(200);
    const agent = JSON.parse((await asA('GET', `/agents/${ids.agent}`)).text);
    expect(agent).toMatchObject({ name: MARK, status: 'active' });
    const keys = JSON.parse((await asA('GET', '/api-keys')).text) as { items: { id: string }[] };
    expect(keys.items.map((k) => k.id)).toContain(ids.apiKey);
    const versions = JSON.parse((await asA('GET', `/orchestrations/definitions/${ids.doneFlow}/versions`)).text);
    expect(versions.items).toEqual([expect.objectContaining({ version: 1, status: 'active' })]);
    for (const user of Object.values(a.users)) {
      const got = JSON.parse((await asA('GET', `/users/${user.id}`)).text);
      expect(got.disabledAt).toBeNull();
    }
    expect(JSON.parse((await asA('GET', `/users/${a.users.viewer.id}`)).text).role).toBe('viewer');
    const deliveries = JSON.parse((await asA('GET', `/webhooks/${ids.webhook}/deliveries?limit=200`)).text) as { items: { id: string }[] };
    expect(deliveries.items.length).toBeGreaterThan(0);
  });
});
