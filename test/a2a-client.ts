/** The official SDK's A2A client, wired for tests: bearer token on every request, card fetched from our path. */
import { Role, TaskState, type Message, type Part, type SendMessageRequest, type StreamResponse, type Task } from '@a2a-js/sdk';
import { Client, ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { expect } from '@jest/globals';
import { randomUUID } from 'node:crypto';

export function authFetch(token: string): typeof fetch {
  return ((input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  }) as typeof fetch;
}

export async function a2aClient(base: string, slug: string, token: string): Promise<Client> {
  const fetchImpl = authFetch(token);
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }),
  );
  return factory.createFromUrl(`${base}/a2a/${slug}/.well-known/agent-card.json`, '');
}

export const userMessage = (parts: Part[], taskId = '', contextId = ''): Message => ({
  messageId: randomUUID(),
  contextId,
  taskId,
  role: Role.ROLE_USER,
  parts,
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});

export const sendRequest = (message: Message, returnImmediately = false): SendMessageRequest => ({
  tenant: '',
  message,
  configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately },
  metadata: undefined,
});

export function asTask(result: unknown): Task {
  expect(result).toHaveProperty('status');
  return result as Task;
}

export function dataParts(message: Message | undefined): unknown[] {
  return (message?.parts ?? []).flatMap((p) => (p.content?.$case === 'data' ? [p.content.value] : []));
}

export async function collect(stream: AsyncIterable<StreamResponse>): Promise<StreamResponse[]> {
  const out: StreamResponse[] = [];
  for await (const event of stream) out.push(event);
  return out;
}

export const statesOf = (events: StreamResponse[]) =>
  events.map((e) =>
    e.payload?.$case === 'statusUpdate'
      ? TaskState[e.payload.value.status?.state ?? 0]
      : e.payload?.$case === 'task'
        ? `task:${TaskState[e.payload.value.status?.state ?? 0]}`
        : e.payload?.$case,
  );
