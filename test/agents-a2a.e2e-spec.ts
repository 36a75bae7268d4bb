import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentCard, Task, TaskArtifactUpdateEvent, TaskStatusUpdateEvent } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import { dataPart, userMessage, type TaskRequestDto } from '#a2a';
import { AgentRunnerRegistry } from '#agents';
import type { JsonValue } from '#core';
import { AgentHarness, expectA2aContract } from './agents/agent-harness.js';

const TOKEN = 'a2a-bearer-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A remote A2A agent built with the SDK's server classes: streams, asks for input, or works until cancelled. */
class RemoteExecutor implements AgentExecutor {
  readonly cancelled: string[] = [];
  private readonly stops = new Map<string, () => void>();

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId } = ctx;
    const data = (ctx.userMessage.parts.find((p) => p.content?.$case === 'data')?.content?.value ?? {}) as Record<string, unknown>;
    const status = (state: string, text?: string) =>
      bus.publish(
        AgentEvent.statusUpdate(
          TaskStatusUpdateEvent.fromJSON({
            taskId,
            contextId,
            status: {
              state,
              timestamp: new Date().toISOString(),
              ...(text ? { message: { messageId: `${taskId}:${state}:${Date.now()}`, role: 'ROLE_AGENT', parts: [{ text }] } } : {}),
            },
          }),
        ),
      );
    const artifact = (value: JsonValue, append = false) =>
      bus.publish(
        AgentEvent.artifactUpdate(
          TaskArtifactUpdateEvent.fromJSON({
            taskId,
            contextId,
            append,
            lastChunk: !append,
            artifact: { artifactId: 'answer', name: 'answer', parts: [{ data: value, mediaType: 'application/json' }] },
          }),
        ),
      );
    bus.publish(
      AgentEvent.task(
        ctx.task ??
          Task.fromJSON({ id: taskId, contextId, status: { state: 'TASK_STATE_SUBMITTED', timestamp: new Date().toISOString() } }),
      ),
    );
    if (ctx.task) {
      // a follow-up to the task that asked for input
      artifact({ region: (data.region as JsonValue) ?? null, answeredBy: 'remote' });
      status('TASK_STATE_COMPLETED');
    } else if (data.mode === 'ask') {
      status('TASK_STATE_INPUT_REQUIRED', 'Which region should I analyse?');
    } else if (data.mode === 'slow') {
      status('TASK_STATE_WORKING', 'working for a long time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20_000);
        this.stops.set(taskId, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return bus.finished();
    } else {
      status('TASK_STATE_WORKING', 'reading the data');
      await sleep(30);
      status('TASK_STATE_WORKING', 'computing');
      await sleep(30);
      artifact({ answer: 42 });
      status('TASK_STATE_COMPLETED');
    }
    bus.finished();
  }

  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    this.cancelled.push(taskId);
    bus.publish(
      AgentEvent.statusUpdate(
        TaskStatusUpdateEvent.fromJSON({
          taskId,
          contextId: '',
          status: { state: 'TASK_STATE_CANCELED', timestamp: new Date().toISOString() },
        }),
      ),
    );
    this.stops.get(taskId)?.();
    bus.finished();
  }
}

describe('a2a agents (e2e, against an A2A server built with the SDK)', () => {
  const h = new AgentHarness();
  let server: Server;
  let base: string;
  const executor = new RemoteExecutor();
  const authorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    process.env.TEST_A2A_TOKEN = TOKEN;
    const app = express();
    app.use((req, _res, next) => {
      authorizations.push(req.headers.authorization);
      next();
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Routes are mounted once the port (hence the card's URL) is known.
    const card = AgentCard.fromJSON({
      name: 'Remote analyst',
      description: 'A remote A2A agent for tests',
      version: '1.0.0',
      supportedInterfaces: [{ url: `${base}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
      capabilities: { streaming: true },
      defaultInputModes: ['application/json'],
      defaultOutputModes: ['application/json'],
      skills: [],
    });
    const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
    app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: { getAgentCard: async () => card } }));
    app.use('/a2a/jsonrpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
    await h.open('a2a');
    await h.agent('remote', 'a2a', { agentCardUrl: `${base}/.well-known/agent-card.json`, tokenEnv: 'TEST_A2A_TOKEN' });
  });

  afterAll(async () => {
    await h.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    delete process.env.TEST_A2A_TOKEN;
  });

  const runner = () => h.app.get(AgentRunnerRegistry).forType('a2a');
  const context = (signal?: AbortSignal) =>
    h.runnerContext('remote', { agentCardUrl: `${base}/.well-known/agent-card.json`, tokenEnv: 'TEST_A2A_TOKEN' }, signal);
  const ask = (data: JsonValue, metadata?: Record<string, JsonValue>): TaskRequestDto => ({
    contextId: 'baton-ctx',
    message: userMessage([dataPart(data)]),
    ...(metadata ? { metadata } : {}),
  });

  it('streams: status updates become step.progress, artifacts the step output, with the bearer token on every request', async () => {
    const slug = await h.define({ steps: [{ key: 'remote', agent: 'remote', input: { question: 'q3' } }] });
    const run = await h.wait(await h.start(slug), ['completed']);
    expect(run.steps?.[0].output).toMatchObject({
      data: { answer: 42 },
      remoteTask: { taskId: expect.any(String) },
      artifacts: [{ artifactId: 'answer' }],
    });
    const progress = (await h.events(run.id)).filter((e) => e.type === 'step.progress').map((e) => e.payload.progress);
    expect(progress).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'a2a.status', state: 'TASK_STATE_WORKING', text: 'reading the data' }),
        expect.objectContaining({ type: 'a2a.status', state: 'TASK_STATE_WORKING', text: 'computing' }),
        expect.objectContaining({ type: 'a2a.artifact', artifactId: 'answer' }),
      ]),
    );
    expect(authorizations.length).toBeGreaterThan(0);
    expect(authorizations.every((a) => a === `Bearer ${TOKEN}`)).toBe(true);
    expect(JSON.stringify(await h.events(run.id))).not.toContain(TOKEN);
  });

  it('keeps the A2A contract and answers a remote input-required with the question, then resumes that remote task', async () => {
    const first = ask({ mode: 'ask' });
    const asked = await runner().execute(first, context());
    await expectA2aContract(first, asked);
    expect(asked.status.state).toBe('TASK_STATE_INPUT_REQUIRED');
    expect(asked.status.message?.parts[0].text).toBe('Which region should I analyse?');
    const remoteTask = asked.metadata?.remoteTask as { taskId: string; contextId: string };
    expect(remoteTask).toEqual({ taskId: asked.id, contextId: asked.contextId });

    const resume = ask({ decision: 'approve', region: 'EMEA' }, { remoteTask });
    const done = await runner().execute(resume, context());
    await expectA2aContract(resume, done);
    expect(done).toMatchObject({ id: remoteTask.taskId, status: { state: 'TASK_STATE_COMPLETED' } });
    expect(done.artifacts[0].parts[0].data).toMatchObject({ data: { region: 'EMEA', answeredBy: 'remote' }, remoteTask });
  });

  it('a step whose remote agent asks for input pauses at a Baton checkpoint; answering it resumes the same remote task', async () => {
    const slug = await h.define({ steps: [{ key: 'remote', agent: 'remote', input: { mode: 'ask' } }, { key: 'after', agent: 'echo', dependsOn: ['remote'], input: { got: '{{ steps.remote.output.data }}' } }] });
    const runId = await h.start(slug);
    const paused = await h.wait(runId, ['awaiting_approval']);
    const step = paused.steps?.find((s) => s.key === 'remote');
    expect(step).toMatchObject({ status: 'awaiting_approval', output: { inputRequired: true, question: 'Which region should I analyse?', remoteTask: { taskId: expect.any(String) } } });
    const remoteTaskId = (step?.output as { remoteTask: { taskId: string } }).remoteTask.taskId;
    const status = (await h.http().get(`/orchestrations/runs/${runId}/status`).set(h.auth()).expect(200)).body;
    expect(status.pendingApprovals).toEqual([expect.objectContaining({ stepKey: 'remote', prompt: 'Which region should I analyse?' })]);
    const approval = (await h.http().get(`/orchestrations/approvals/${status.pendingApprovals[0].id}`).set(h.auth()).expect(200)).body;
    expect(approval.decisions).toEqual(['retry', 'skip', 'abort']);
    await h
      .http()
      .post(`/orchestrations/approvals/${approval.id}/decision`)
      .set({ Authorization: `Bearer ${h.org.users.approver.token}` })
      .send({ decision: 'retry', modifications: { reply: { region: 'EMEA' } } })
      .expect(200);
    const run = await h.wait(runId, ['completed', 'failed']);
    expect(run.status).toBe('completed');
    const answered = run.steps?.find((s) => s.key === 'remote');
    expect(answered).toMatchObject({ attempt: 2, output: { data: { region: 'EMEA', answeredBy: 'remote' }, remoteTask: { taskId: remoteTaskId } } });
    expect(run.output).toEqual({ after: { got: { region: 'EMEA', answeredBy: 'remote' } } });
  });

  it('cancels the remote task when the step is aborted', async () => {
    const controller = new AbortController();
    const ctx = context(controller.signal);
    const pending = runner().execute(ask({ mode: 'slow' }), ctx);
    const deadline = Date.now() + 10_000;
    while (!ctx.progress.some((p) => (p as { state?: string }).state === 'TASK_STATE_WORKING') && Date.now() < deadline) await sleep(20);
    const taskId = (ctx.progress[0] as { taskId: string }).taskId;
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', retryable: false });
    while (!executor.cancelled.includes(taskId) && Date.now() < deadline) await sleep(20);
    expect(executor.cancelled).toContain(taskId);
  });

  it('maps errors: an unreachable agent is retryable, a missing token variable is not', async () => {
    const ctx = context();
    await expect(
      runner().execute(ask({}), { ...ctx, config: { agentCardUrl: 'http://127.0.0.1:1/.well-known/agent-card.json' } }),
    ).rejects.toMatchObject({ retryable: true });
    await expect(
      runner().execute(ask({}), { ...ctx, config: { agentCardUrl: `${base}/.well-known/agent-card.json`, tokenEnv: 'TEST_A2A_UNSET' } }),
    ).rejects.toMatchObject({
      code: 'SECRET_NOT_SET',
      retryable: false,
    });
  });
});
