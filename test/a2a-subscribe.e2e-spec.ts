/**
 * SubscribeToTask is served from our event log, not from an in-memory bus: the task is started by this process
 * (role all: it runs the steps), and subscribed to through a separate API process (BATON_ROLE=api, nothing shared but
 * PostgreSQL); that process is then killed and a new one started, and a subscription through it still follows the
 * paused task to its end. Driven with the official SDK client.
 */
import type { INestApplication } from '@nestjs/common';
import { TaskState } from '@a2a-js/sdk';
import { jest } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { protocolDataPart } from '#a2a';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createTestOrganization,
  insertDefinition,
  openTestDataSource,
  startApiProcess,
  testConfig,
  testDatabaseUrl,
  waitForRun,
  type ApiProcess,
  type TestOrganization,
} from '#testing';
import { a2aClient, asTask, collect, dataParts, sendRequest, statesOf, userMessage } from './a2a-client.js';

jest.setTimeout(120_000);

describe('A2A SubscribeToTask across API processes and restarts (e2e)', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let base: string;
  let api: ApiProcess | undefined;
  const slug = `a2a-sub-${Date.now().toString(36)}`;

  beforeAll(async () => {
    app = await createApp(testConfig({ pollIntervalMs: 200 }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    ds = await openTestDataSource();
    org = await createTestOrganization(app, ds, 'a2asub');
    await insertDefinition(ds, org.id, {
      slug,
      name: slug,
      steps: [
        { key: 'draft', agent: 'echo', input: { text: '{{ input.text }}' }, approval: { prompt: 'Ship it?' } },
        { key: 'ship', agent: 'sleep', dependsOn: ['draft'], input: { ms: 200, echo: '{{ steps.draft.output.text }}' } },
      ],
    });
  });

  afterAll(async () => {
    await api?.kill();
    await ds?.destroy();
    await app?.close();
  });

  /** Starts a task here and waits for its checkpoint (blocking SendMessage returns at INPUT_REQUIRED). */
  const pausedTask = async (text: string) => {
    const client = await a2aClient(base, slug, org.users.operator.token);
    const task = asTask(await client.sendMessage(sendRequest(userMessage([protocolDataPart({ text })]))));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const [approval] = dataParts(task.status?.message) as { approvalId: string }[];
    return { task, approvalId: approval.approvalId };
  };
  const decide = async (taskId: string, approvalId: string) => {
    const approver = await a2aClient(base, slug, org.users.approver.token);
    await approver.sendMessage(sendRequest(userMessage([protocolDataPart({ approvalId, decision: 'continue' })], taskId), true));
  };

  it('a subscription through another API process, and through a restarted one, follows a paused task to COMPLETED', async () => {
    api = await startApiProcess(testDatabaseUrl());
    for (const round of ['first process', 'after a restart']) {
      if (round === 'after a restart') {
        await api.kill(); // a crash: nothing of that process survives
        api = await startApiProcess(testDatabaseUrl());
      }
      const { task, approvalId } = await pausedTask(round);
      const remote = await a2aClient(api.baseUrl, slug, org.users.viewer.token);
      const stream = remote.resubscribeTask({ tenant: '', id: task.id });
      const first = await stream.next();
      expect(first.value?.payload?.$case).toBe('task');
      expect(first.value?.payload?.$case === 'task' && first.value.payload.value.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      // The decision is taken on this process; the other one only reads the log.
      await decide(task.id, approvalId);
      const rest = await collect({ [Symbol.asyncIterator]: () => stream });
      const states = statesOf(rest);
      expect(states).toContain('TASK_STATE_WORKING');
      expect(states.slice(-2)).toEqual(['artifactUpdate', 'TASK_STATE_COMPLETED']);
      const artifact = rest.find((e) => e.payload?.$case === 'artifactUpdate');
      expect(artifact?.payload?.$case === 'artifactUpdate' && artifact.payload.value.artifact?.parts[0].content).toEqual({
        $case: 'data',
        value: { ship: { sleptMs: 200, echo: round } },
      });
      await waitForRun(app, org.users.viewer.token, task.id, ['completed']);
      // A finished task cannot be subscribed to (the protocol's unsupported operation).
      await expect(collect(remote.resubscribeTask({ tenant: '', id: task.id }))).rejects.toMatchObject({ envelopeCode: -32004 });
    }
  });
});
