/**
 * What the agent e2e suites share: a real local HTTP server standing in for a remote peer (an LLM API, n8n, an
 * A2A agent), an app with one organization, agents inserted as rows, and the A2A contract check of a runner's
 * request and response.
 */
import type { INestApplication } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { Task } from '@a2a-js/sdk';
import { TaskRequestDto, type TaskResponseDto } from '#a2a';
import type { AgentExecutionContext } from '#agents';
import type { JsonValue } from '#core';
import type { DefinitionSpec } from '#core';
import { createApp } from '../../apps/api/src/bootstrap.js';
import {
  createTestOrganization,
  insertDefinition,
  openScratchDatabase,
  testConfig,
  waitForRun,
  type RunBody,
  type ScratchDatabase,
  type TestOrganization,
} from '#testing';

export interface StandIn {
  url: string;
  requests: { method: string; path: string; headers: IncomingMessage['headers']; body: string; at: number }[];
  close(): Promise<void>;
}

export async function startStandIn(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<StandIn> {
  const requests: StandIn['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RunEvent {
  id: string;
  seq: number;
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
  createdAt?: string;
}

export class AgentHarness {
  app: INestApplication;
  ds: DataSource;
  org: TestOrganization;
  private counter = 0;
  private scratch: ScratchDatabase | undefined;

  /**
   * On a database of its own: on the shared test database another suite's worker could claim this suite's steps (a
   * retry of an api agent's step then ran in a process without the stand-in's environment and dry-ran instead).
   */
  async open(label: string): Promise<this> {
    this.scratch = await openScratchDatabase(`agents_${label}`);
    this.app = await createApp(testConfig({ databaseUrl: this.scratch.url, pollIntervalMs: 200 }));
    await this.app.init();
    this.ds = this.scratch.dataSource;
    this.org = await createTestOrganization(this.app, this.ds, label);
    return this;
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.scratch?.drop();
  }

  http() {
    return request(this.app.getHttpServer());
  }

  auth() {
    return { Authorization: `Bearer ${this.org.users.operator.token}` };
  }

  async agent(slug: string, type: string, config: Record<string, unknown>): Promise<void> {
    await this.ds.query(`INSERT INTO agents (organization_id, slug, name, type, capabilities, config) VALUES ($1, $2, $2, $3, '{}', $4)`, [
      this.org.id,
      slug,
      type,
      JSON.stringify(config),
    ]);
  }

  async define(spec: Omit<DefinitionSpec, 'slug' | 'name'>): Promise<string> {
    const slug = `agents-${++this.counter}-${Date.now().toString(36)}`;
    await insertDefinition(this.ds, this.org.id, { slug, name: slug, ...spec });
    return slug;
  }

  async start(definition: string, input: unknown = {}): Promise<string> {
    const res = await this.http().post('/orchestrations/runs').set(this.auth()).send({ definition, input }).expect(201);
    return res.body.id as string;
  }

  wait(runId: string, statuses: string[], timeoutMs = 30_000): Promise<RunBody> {
    return waitForRun(this.app, this.org.users.operator.token, runId, statuses, timeoutMs);
  }

  /** What the engine hands a runner, for calling one directly; `progress` collects what it reports. */
  runnerContext(
    agentSlug: string,
    config: Record<string, unknown>,
    signal = new AbortController().signal,
  ): AgentExecutionContext & { progress: JsonValue[] } {
    const progress: JsonValue[] = [];
    return { organizationId: this.org.id, agentSlug, config, attempt: 1, signal, onProgress: (p) => progress.push(p), progress };
  }

  async events(runId: string): Promise<RunEvent[]> {
    return (await this.http().get(`/orchestrations/runs/${runId}/events`).set(this.auth()).expect(200)).body.items as RunEvent[];
  }
}

/**
 * The A2A contract of a runner call: the request passes TaskRequestDto's validation, and the response is a valid
 * A2A v1.0 Task on the wire (the SDK's own codec reads it and writes it back unchanged).
 */
export async function expectA2aContract(taskRequest: TaskRequestDto, response: TaskResponseDto): Promise<void> {
  const errors = await validate(plainToInstance(TaskRequestDto, taskRequest), { forbidUnknownValues: true });
  expect(errors).toEqual([]);
  const wire = JSON.parse(JSON.stringify(response)) as Record<string, unknown>;
  expect(Task.toJSON(Task.fromJSON(wire))).toEqual(wire);
}
