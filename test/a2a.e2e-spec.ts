/**
 * Orchestrations served as A2A v1.0 agents, driven by the official SDK's client classes (ClientFactory,
 * JsonRpcTransportFactory, the v0.3 LegacyJsonRpcTransport): cards, send (blocking and not), stream, input-required
 * and resume, cancel, get, list, errors and tenant isolation. Hand-written JSON only for the malformed requests.
 */
import type { INestApplication } from '@nestjs/common';
import { TaskState, type Message } from '@a2a-js/sdk';
import { Client } from '@a2a-js/sdk/client';
import { LegacyJsonRpcTransport } from '@a2a-js/sdk/compat/v0_3/client';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { protocolDataPart, protocolTextPart } from '#a2a';
import type { DefinitionSpec } from '#core';
import {
  insertDefinition,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';
import { a2aClient, asTask, authFetch, collect, dataParts, sendRequest, statesOf, userMessage } from './a2a-client.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

type Rpc = { jsonrpc: string; id: unknown; result?: unknown; error?: { code: number; message: string } };

describe('orchestrations as A2A agents (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let other: TestOrganization;
  let base: string;

  let scratch: ScratchApp;

  beforeAll(async () => {
    scratch = await openScratchApp('a2a', {}, { listen: true });
    ({ app, org } = scratch);
    ds = scratch.scratch.dataSource;
    other = await scratch.organization('a2a-other');
    base = scratch.base;
  });

  afterAll(async () => {
    await scratch?.close();
  });

  let n = 0;
  const define = async (steps: DefinitionSpec['steps'], extra: Partial<DefinitionSpec> = {}, organizationId = org.id): Promise<string> => {
    const slug = `a2a-${++n}-${Date.now().toString(36)}`;
    await insertDefinition(ds, organizationId, { slug, name: `Agent ${slug}`, steps, ...extra });
    return slug;
  };
  const echoTwice = () =>
    define([
      { key: 'first', agent: 'echo', input: { text: '{{ input.text }}' } },
      { key: 'second', agent: 'echo', dependsOn: ['first'], input: { text: '{{ steps.first.output.text }}', done: true } },
    ]);
  const withApproval = () =>
    define([
      { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}', n: 1 }, approval: { prompt: 'Publish?' } },
      {
        key: 'publish',
        agent: 'echo',
        dependsOn: ['draft'],
        input: { text: '{{ steps.draft.output.text }}', n: '{{ steps.draft.output.n }}' },
      },
    ]);
  const sleepy = () => define([{ key: 'nap', agent: 'sleep', input: { ms: 30_000 } }]);
  const rpc = async (slug: string, body: string, headers: Record<string, string> = {}, token = org.users.operator.token) => {
    const res = await fetch(`${base}/a2a/${slug}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'A2A-Version': '1.0', ...headers },
      body,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Rpc };
  };
  const runCount = async (slug: string) =>
    Number((await ds.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE definition_slug = $1`, [slug]))[0].n);

  it('serves the agent card in the protocol JSON form, and the organization card lists the agents', async () => {
    const slug = await define([{ key: 'only', agent: 'echo', input: '{{ input }}' }], {
      input: { type: 'object', required: ['quarter'], properties: { quarter: { type: 'string' } } },
      description: 'KPI tracking',
    });
    const raw = (await (
      await fetch(`${base}/a2a/${slug}/.well-known/agent-card.json`, { headers: { Authorization: `Bearer ${org.users.viewer.token}` } })
    ).json()) as {
      skills: { description: string }[];
    };
    expect(JSON.stringify(raw)).not.toContain('$case');
    expect(raw).toMatchObject({
      name: `Agent ${slug}`,
      description: 'KPI tracking',
      version: '1',
      supportedInterfaces: [
        { url: `${base}/a2a/${slug}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
        { url: `${base}/a2a/${slug}`, protocolBinding: 'JSONRPC', protocolVersion: '0.3' },
      ],
      capabilities: { streaming: true, pushNotifications: true },
      securitySchemes: { bearer: { httpAuthSecurityScheme: { scheme: 'Bearer' } } },
      securityRequirements: [{ schemes: { bearer: {} } }],
      skills: [{ id: slug, inputModes: ['application/json'], outputModes: ['application/json'] }],
    });
    expect(raw.skills[0].description).toContain('"required":["quarter"]');

    const client = await a2aClient(base, slug, org.users.viewer.token);
    const card = await client.getAgentCard();
    expect(card.skills[0].id).toBe(slug);
    expect(card.capabilities?.streaming).toBe(true);
    expect(card.securitySchemes.bearer.scheme?.$case).toBe('httpAuthSecurityScheme');

    const agents = (await (
      await fetch(`${base}/a2a/.well-known/agents`, { headers: { Authorization: `Bearer ${org.users.viewer.token}` } })
    ).json()) as {
      agents: { slug: string; cardUrl: string }[];
    };
    expect(agents.agents.map((a) => a.slug)).toContain(slug);
    expect(agents.agents.find((a) => a.slug === slug)?.cardUrl).toBe(`${base}/a2a/${slug}/.well-known/agent-card.json`);
    // Public: without a token the organization is named (another organization's agent is not there).
    expect((await fetch(`${base}/a2a/${slug}/.well-known/agent-card.json?organization=${org.slug}`)).status).toBe(200);
    expect((await fetch(`${base}/a2a/${slug}/.well-known/agent-card.json?organization=${other.slug}`)).status).toBe(404);
  });

  it('SendMessage blocks until the task completes; the result artifact holds the output; text becomes { text }', async () => {
    const slug = await echoTwice();
    const client = await a2aClient(base, slug, org.users.operator.token);
    const task = asTask(await client.sendMessage(sendRequest(userMessage([protocolTextPart('hello')]))));
    expect(TaskState[task.status?.state ?? 0]).toBe('TASK_STATE_COMPLETED');
    expect(task.contextId).toBeTruthy();
    expect(task.artifacts).toHaveLength(1);
    expect(task.artifacts[0].artifactId).toBe('result');
    expect(dataParts({ parts: task.artifacts[0].parts } as Message)).toEqual([{ second: { text: 'hello', done: true } }]);
    const run = await waitForRun(app, org.users.viewer.token, task.id, ['completed']);
    expect(run.output).toEqual({ second: { text: 'hello', done: true } });

    const fetched = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
    expect(fetched.history).toHaveLength(1);
    expect(fetched.history[0].parts[0].content).toEqual({ $case: 'text', value: 'hello' });
    expect((await client.getTask({ tenant: '', id: task.id, historyLength: 0 })).history).toHaveLength(0);
  });

  it('SendMessage with returnImmediately answers at once; GetTask follows the task to completion', async () => {
    const slug = await define([{ key: 'nap', agent: 'sleep', input: { ms: 600 } }]);
    const client = await a2aClient(base, slug, org.users.operator.token);
    const contextId = `ctx-${randomUUID()}`;
    const task = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({})], '', contextId), true)));
    expect(['TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING']).toContain(TaskState[task.status?.state ?? 0]);
    expect(task.contextId).toBe(contextId);
    // The answer given at once holds the history GetTask reads (the message, with the task's ids).
    expect(task.history).toHaveLength(1);
    expect(task.history).toEqual((await client.getTask({ tenant: '', id: task.id, historyLength: undefined })).history);
    expect(task.history[0]).toMatchObject({ taskId: task.id, contextId });
    const done = await waitFor(async () => {
      const t = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
      return t.status?.state === TaskState.TASK_STATE_COMPLETED ? t : null;
    });
    expect(dataParts({ parts: done.artifacts[0].parts } as Message)).toEqual([{ nap: { sleptMs: 600, echo: null } }]);
  });

  it('SendStreamingMessage streams the task, its steps ("Step i/n: key"), the result artifact, then COMPLETED', async () => {
    const slug = await echoTwice();
    const client = await a2aClient(base, slug, org.users.operator.token);
    const events = await collect(client.sendMessageStream(sendRequest(userMessage([protocolDataPart({ text: 'hi' })]))));
    expect(events[0].payload?.$case).toBe('task');
    const texts = events
      .flatMap((e) => (e.payload?.$case === 'statusUpdate' ? (e.payload.value.status?.message?.parts ?? []) : []))
      .flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : []));
    expect(texts).toEqual(expect.arrayContaining(['Step 1/2: first', 'Step 2/2: second']));
    const stepData = events.flatMap((e) => (e.payload?.$case === 'statusUpdate' ? dataParts(e.payload.value.status?.message) : []));
    expect(stepData).toContainEqual({ type: 'orchestration.step', stepKey: 'second', stepIndex: 2, stepCount: 2, status: 'running' });
    const artifact = events.find((e) => e.payload?.$case === 'artifactUpdate');
    expect(artifact?.payload?.$case === 'artifactUpdate' && artifact.payload.value.artifact?.artifactId).toBe('result');
    expect(statesOf(events).at(-1)).toBe('TASK_STATE_COMPLETED');
    expect(statesOf(events).indexOf('artifactUpdate')).toBe(statesOf(events).length - 2);
  });

  it('a failing step ends the stream with FAILED and an orchestration.error data part (also in GetTask)', async () => {
    const slug = await define([{ key: 'explode', agent: 'fail', input: { message: 'it broke' } }]);
    const client = await a2aClient(base, slug, org.users.operator.token);
    const events = await collect(client.sendMessageStream(sendRequest(userMessage([protocolDataPart({})]))));
    expect(statesOf(events).at(-1)).toBe('TASK_STATE_FAILED');
    const last = events.at(-1);
    const failure = { type: 'orchestration.error', stepKey: 'explode', message: 'it broke' };
    expect(last?.payload?.$case === 'statusUpdate' && dataParts(last.payload.value.status?.message)).toEqual([failure]);
    const taskId = events[0].payload?.$case === 'task' ? events[0].payload.value.id : '';
    expect(dataParts((await client.getTask({ tenant: '', id: taskId, historyLength: 0 })).status?.message)).toEqual([failure]);
  });

  it('a checkpoint is INPUT_REQUIRED with the approval as a data part; a decision message resumes the task (continue)', async () => {
    const slug = await withApproval();
    const operator = await a2aClient(base, slug, org.users.operator.token);
    const approver = await a2aClient(base, slug, org.users.approver.token);
    const paused = asTask(await operator.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'draft me' })]))));
    expect(TaskState[paused.status?.state ?? 0]).toBe('TASK_STATE_INPUT_REQUIRED');
    const [approval] = dataParts(paused.status?.message) as {
      type: string;
      approvalId: string;
      stepKey: string;
      prompt: string;
      payload: unknown;
      allowedDecisions: string[];
    }[];
    expect(approval).toMatchObject({
      type: 'orchestration.approval',
      stepKey: 'draft',
      prompt: 'Publish?',
      payload: { text: 'draft me', n: 1 },
    });
    expect(approval.allowedDecisions).toEqual(expect.arrayContaining(['continue', 'abort']));
    const fetched = await operator.getTask({ tenant: '', id: paused.id, historyLength: undefined });
    expect(dataParts(fetched.status?.message)).toEqual([approval]);

    // A bad decision and a stale approval id are invalid params, and the task stays INPUT_REQUIRED.
    await expect(
      approver.sendMessage(sendRequest(userMessage([protocolDataPart({ approvalId: approval.approvalId, decision: 'maybe' })], paused.id))),
    ).rejects.toMatchObject({ envelopeCode: -32602 });
    await expect(
      approver.sendMessage(sendRequest(userMessage([protocolDataPart({ approvalId: randomUUID(), decision: 'continue' })], paused.id))),
    ).rejects.toMatchObject({ envelopeCode: -32602 });
    await expect(approver.sendMessage(sendRequest(userMessage([protocolTextPart('yes please')], paused.id)))).rejects.toMatchObject({
      envelopeCode: -32602,
    });
    // A viewer may not decide.
    const viewer = await a2aClient(base, slug, org.users.viewer.token);
    await expect(
      viewer.sendMessage(
        sendRequest(userMessage([protocolDataPart({ approvalId: approval.approvalId, decision: 'continue' })], paused.id)),
      ),
    ).rejects.toMatchObject({ envelopeCode: -32040 });
    expect((await operator.getTask({ tenant: '', id: paused.id, historyLength: 0 })).status?.state).toBe(
      TaskState.TASK_STATE_INPUT_REQUIRED,
    );

    const events = await collect(
      approver.sendMessageStream(
        sendRequest(
          userMessage(
            [protocolDataPart({ approvalId: approval.approvalId, decision: 'continue', modifications: { n: 2 }, comment: 'ok' })],
            paused.id,
            paused.contextId,
          ),
        ),
      ),
    );
    expect(events[0].payload?.$case).toBe('task');
    expect(statesOf(events).at(-1)).toBe('TASK_STATE_COMPLETED');
    const run = await waitForRun(app, org.users.viewer.token, paused.id, ['completed']);
    expect(run.output).toEqual({ publish: { text: 'draft me', n: 2 } });
    const approvals = await ds.query(`SELECT decision, comment, decided_by FROM human_approvals WHERE run_id = $1`, [paused.id]);
    expect(approvals).toEqual([{ decision: 'continue', comment: 'ok', decided_by: org.users.approver.id }]);
    // The task is terminal now: a message to it is the protocol's unsupported operation.
    await expect(
      approver.sendMessage(
        sendRequest(userMessage([protocolDataPart({ approvalId: approval.approvalId, decision: 'continue' })], paused.id)),
      ),
    ).rejects.toMatchObject({ envelopeCode: -32004 });
  });

  it('an abort decision cancels the task', async () => {
    const slug = await withApproval();
    const approver = await a2aClient(base, slug, org.users.approver.token);
    const operator = await a2aClient(base, slug, org.users.operator.token);
    const paused = asTask(await operator.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'x' })]))));
    const [approval] = dataParts(paused.status?.message) as { approvalId: string }[];
    const task = asTask(
      await approver.sendMessage(
        sendRequest(userMessage([protocolDataPart({ approvalId: approval.approvalId, decision: 'abort' })], paused.id)),
      ),
    );
    expect(TaskState[task.status?.state ?? 0]).toBe('TASK_STATE_CANCELED');
    await waitForRun(app, org.users.viewer.token, paused.id, ['cancelled']);
  });

  it('CancelTask cancels a running task (its step is aborted) and a paused one; a finished task is -32002', async () => {
    const slug = await sleepy();
    const client = await a2aClient(base, slug, org.users.operator.token);
    const running = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({})]), true)));
    await waitFor(
      async () => (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND status = 'running'`, [running.id])).length > 0,
    );
    const cancelled = await client.cancelTask({ tenant: '', id: running.id, metadata: undefined });
    expect(TaskState[cancelled.status?.state ?? 0]).toBe('TASK_STATE_CANCELED');
    const run = await waitForRun(app, org.users.viewer.token, running.id, ['cancelled']);
    expect(run.steps?.[0].status).toBe('cancelled');
    await expect(client.cancelTask({ tenant: '', id: running.id, metadata: undefined })).rejects.toMatchObject({ envelopeCode: -32002 });

    const approvalSlug = await withApproval();
    const approvalClient = await a2aClient(base, approvalSlug, org.users.operator.token);
    const paused = asTask(await approvalClient.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'x' })]))));
    expect(TaskState[(await approvalClient.cancelTask({ tenant: '', id: paused.id, metadata: undefined })).status?.state ?? 0]).toBe(
      'TASK_STATE_CANCELED',
    );
    expect((await ds.query(`SELECT status FROM human_approvals WHERE run_id = $1`, [paused.id]))[0].status).toBe('expired');
    // A viewer may not cancel.
    const viewer = await a2aClient(base, slug, org.users.viewer.token);
    await expect(viewer.cancelTask({ tenant: '', id: running.id, metadata: undefined })).rejects.toMatchObject({ envelopeCode: -32040 });
  });

  it('a message to a working task is an unsupported operation', async () => {
    const slug = await sleepy();
    const client = await a2aClient(base, slug, org.users.operator.token);
    const running = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({})]), true)));
    await expect(
      client.sendMessage(sendRequest(userMessage([protocolDataPart({ decision: 'continue' })], running.id))),
    ).rejects.toMatchObject({ envelopeCode: -32004 });
    await client.cancelTask({ tenant: '', id: running.id, metadata: undefined });
  });

  it("ListTasks pages through the agent's tasks, newest first, filtered by context and state, and validates its params", async () => {
    const slug = await echoTwice();
    const client = await a2aClient(base, slug, org.users.operator.token);
    const contextId = `ctx-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({ text: `t${i}` })], '', contextId)))).id);
    const loner = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'other' })]))));
    const list = (params: Partial<Parameters<Client['listTasks']>[0]>) =>
      client.listTasks({
        tenant: '',
        contextId: '',
        status: TaskState.TASK_STATE_UNSPECIFIED,
        pageToken: '',
        statusTimestampAfter: undefined,
        ...params,
      });

    const first = await list({ contextId, pageSize: 2 });
    expect(first.totalSize).toBe(3);
    expect(first.tasks).toHaveLength(2);
    expect(first.nextPageToken).not.toBe('');
    const second = await list({ contextId, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.tasks).toHaveLength(1);
    expect(second.nextPageToken).toBe('');
    expect([...first.tasks, ...second.tasks].map((t) => t.id).sort()).toEqual([...ids].sort());
    expect(first.tasks.every((t) => t.contextId === contextId && t.artifacts.length === 0)).toBe(true);

    const all = await list({ status: TaskState.TASK_STATE_COMPLETED, includeArtifacts: true });
    expect(all.tasks.map((t) => t.id)).toEqual(expect.arrayContaining([...ids, loner.id]));
    expect(all.tasks[0].artifacts[0].artifactId).toBe('result');
    expect((await list({ status: TaskState.TASK_STATE_WORKING })).tasks).toHaveLength(0);

    await expect(list({ pageSize: 500 })).rejects.toMatchObject({ envelopeCode: -32602 });
    await expect(list({ pageToken: 'garbage' })).rejects.toMatchObject({ envelopeCode: -32602 });
    await expect(list({ historyLength: -1 })).rejects.toMatchObject({ envelopeCode: -32602 });
    const badStatus = await rpc(
      slug,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ListTasks', params: { status: 'TASK_STATE_RUNNING' } }),
    );
    expect(badStatus.body.error?.code).toBe(-32602);
  });

  it('answers malformed requests with the JSON-RPC errors, never HTTP 500; a missing or bad bearer is 401 with WWW-Authenticate', async () => {
    const slug = await echoTwice();
    expect((await rpc(slug, '{"jsonrpc": "2.0", "method": ')).body.error?.code).toBe(-32700);
    expect((await rpc(slug, JSON.stringify({ id: 1, method: 'GetTask', params: {} }))).body.error?.code).toBe(-32600);
    expect((await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, params: {} }))).body.error?.code).toBe(-32600);
    expect((await rpc(slug, JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'GetTask' }]))).body.error?.code).toBe(-32600);
    expect((await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'DoSomething', params: {} }))).body).toMatchObject({
      id: 7,
      error: { code: -32601 },
    });
    expect((await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: 'x' }))).body.error?.code).toBe(-32602);
    expect((await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: {} }))).body.error?.code).toBe(-32602);
    expect(
      (await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: randomUUID() } }))).body.error?.code,
    ).toBe(-32001);
    expect(
      (await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'not-a-run' } }))).body.error?.code,
    ).toBe(-32001);
    expect(
      (
        await rpc(
          slug,
          JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'SendMessage',
            params: { message: { messageId: 'm', role: 'ROLE_USER', parts: [] } },
          }),
        )
      ).body.error?.code,
    ).toBe(-32602);
    expect(
      (
        await rpc(slug, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: randomUUID() } }), {
          'A2A-Version': '9.9',
        })
      ).body.error?.code,
    ).toBe(-32009);

    for (const token of ['', 'not-a-token']) {
      const res = await fetch(`${base}/a2a/${slug}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: randomUUID() } }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const unknownAgent = await rpc(
      'no-such-agent',
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: randomUUID() } }),
    );
    expect(unknownAgent.status).toBe(404);
  });

  it('refuses input that does not match the schema (-32602 naming what is expected) and starts no run; viewers may not start', async () => {
    const slug = await define([{ key: 'only', agent: 'echo', input: '{{ input }}' }], {
      input: { type: 'object', required: ['quarter'], properties: { quarter: { type: 'string' } } },
    });
    const client = await a2aClient(base, slug, org.users.operator.token);
    await expect(client.sendMessage(sendRequest(userMessage([protocolTextPart('Q3 please')])))).rejects.toMatchObject({
      envelopeCode: -32602,
      message: expect.stringContaining('"required":["quarter"]'),
    });
    await expect(client.sendMessage(sendRequest(userMessage([protocolDataPart({ quarter: 3 })])))).rejects.toMatchObject({
      envelopeCode: -32602,
      message: expect.stringContaining('quarter'),
    });
    expect(await runCount(slug)).toBe(0);
    const viewer = await a2aClient(base, slug, org.users.viewer.token);
    await expect(viewer.sendMessage(sendRequest(userMessage([protocolDataPart({ quarter: 'Q3' })])))).rejects.toMatchObject({
      envelopeCode: -32040,
    });
    expect(await runCount(slug)).toBe(0);
    const task = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({ quarter: 'Q3' })]))));
    expect(TaskState[task.status?.state ?? 0]).toBe('TASK_STATE_COMPLETED');
  });

  it("keeps organizations apart: another organization's task is not found, its agents are not there", async () => {
    const slug = await echoTwice();
    const mine = await a2aClient(base, slug, org.users.operator.token);
    const task = asTask(await mine.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'secret' })]))));
    // The same slug in the other organization is another agent with other tasks.
    await insertDefinition(ds, other.id, { slug, name: 'theirs', steps: [{ key: 'only', agent: 'echo', input: {} }] });
    const theirs = await a2aClient(base, slug, other.users.admin.token);
    expect((await theirs.getAgentCard()).name).toBe('theirs');
    await expect(theirs.getTask({ tenant: '', id: task.id, historyLength: undefined })).rejects.toMatchObject({ envelopeCode: -32001 });
    await expect(theirs.cancelTask({ tenant: '', id: task.id, metadata: undefined })).rejects.toMatchObject({ envelopeCode: -32001 });
    await expect(theirs.sendMessage(sendRequest(userMessage([protocolDataPart({ decision: 'continue' })], task.id)))).rejects.toMatchObject(
      { envelopeCode: -32001 },
    );
    const listed = await theirs.listTasks({
      tenant: '',
      contextId: task.contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageToken: '',
      statusTimestampAfter: undefined,
    });
    expect(listed.tasks).toHaveLength(0);
    const onlyMine = await define([{ key: 'only', agent: 'echo', input: {} }]);
    const res = await fetch(`${base}/a2a/${onlyMine}/.well-known/agent-card.json`, {
      headers: { Authorization: `Bearer ${other.users.viewer.token}` },
    });
    expect(res.status).toBe(404);
  });

  it('speaks protocol 0.3 on the same endpoint (message/send, tasks/get, message/stream, tasks/cancel) with the SDK legacy client', async () => {
    const slug = await echoTwice();
    const modern = await a2aClient(base, slug, org.users.operator.token);
    const legacy = new Client(
      new LegacyJsonRpcTransport({ endpoint: `${base}/a2a/${slug}`, fetchImpl: authFetch(org.users.operator.token) }),
      await modern.getAgentCard(),
    );
    const task = asTask(await legacy.sendMessage(sendRequest(userMessage([protocolDataPart({ text: 'old' })]))));
    expect(TaskState[task.status?.state ?? 0]).toBe('TASK_STATE_COMPLETED');
    expect(dataParts({ parts: task.artifacts[0].parts } as Message)).toEqual([{ second: { text: 'old', done: true } }]);
    expect((await legacy.getTask({ tenant: '', id: task.id, historyLength: undefined })).id).toBe(task.id);
    const events = await collect(legacy.sendMessageStream(sendRequest(userMessage([protocolTextPart('streamed')]))));
    expect(statesOf(events).at(-1)).toBe('TASK_STATE_COMPLETED');
    await expect(legacy.cancelTask({ tenant: '', id: task.id, metadata: undefined })).rejects.toMatchObject({
      message: expect.stringContaining('can no longer be canceled'),
    });

    // The wire really is 0.3: kind-tagged parts, method names with slashes, no A2A-Version header.
    const raw = await fetch(`${base}/a2a/${slug}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${org.users.operator.token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'r', method: 'tasks/get', params: { id: task.id } }),
    });
    const body = (await raw.json()) as { result: { kind: string; status: { state: string }; artifacts: { parts: { kind: string }[] }[] } };
    expect(body.result).toMatchObject({ kind: 'task', status: { state: 'completed' }, artifacts: [{ parts: [{ kind: 'data' }] }] });
  });
});
