/**
 * The `a2a` agent type: a remote A2A v1.0 agent, called with the official @a2a-js/sdk client (JSON-RPC or REST, as
 * its card offers). Its HTTP goes through createOutboundWebFetch, so the agent card URL and the endpoints the card
 * names follow the outbound address policy; a bearer token comes from the environment variable `tokenEnv`.
 *
 * - Streaming when the card says so (and `streaming` is not false): status updates become `a2a.status` step
 *   progress, artifact updates are collected (appended chunks joined) and become the step output.
 * - Cancelling the step (its AbortSignal) cancels the remote task (CancelTask) once its id is known.
 * - A remote TASK_STATE_INPUT_REQUIRED is answered as such: a TaskResponseDto in that state whose status message is
 *   the remote question and whose metadata `remoteTask` names the remote task and context. A request carrying
 *   `metadata.remoteTask` (a resume) sends its message to that remote task instead of starting a new one.
 */
import { Injectable } from '@nestjs/common';
import { Artifact, Message, Task, TaskState, taskStateToJSON, type StreamResponse } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
  type Client,
} from '@a2a-js/sdk/client';
import { agentMessage, dataPart, type ArtifactDto, type MessageDto, type PartDto, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import type { TaskStateName } from '#a2a';
import type { JsonObject, JsonValue } from '#core';
import { randomUUID } from 'node:crypto';
import { ABORTED_ERROR, AgentError } from '../agent-error.js';
import type { AgentExecutionContext } from '../base-agent-runner.js';
import { RegisteredAgentRunner } from '../registered-agent-runner.js';
import { redactSecrets, requireEnvSecret } from '../outbound/env-secrets.js';
import { transportError } from '../outbound/http-failure.js';
import { OutboundHttpError } from '../outbound/outbound-http.js';
import { createOutboundWebFetch } from '../outbound/outbound-web-fetch.js';

export interface A2aAgentConfig {
  /** Full URL of the remote agent's card, e.g. https://agent.example.com/.well-known/agent-card.json */
  agentCardUrl: string;
  /** Environment variable holding the bearer token sent on every request (card included). */
  tokenEnv?: string;
  /** false: never stream, even when the card offers it. */
  streaming?: boolean;
  /** Bound of each HTTP exchange (a stream included); the step's own timeout still applies. */
  timeoutMs?: number;
}

/** Names the remote task a resume continues; returned in the metadata of an INPUT_REQUIRED answer. */
export interface RemoteTaskRef {
  taskId: string;
  contextId: string;
}

export const A2A_ERROR = 'A2A_ERROR';
export const A2A_PROGRESS_STATUS = 'a2a.status';
export const A2A_PROGRESS_ARTIFACT = 'a2a.artifact';
export const DEFAULT_A2A_TIMEOUT_MS = 300_000;
/** How long the CancelTask sent on abort may take (the step is already over). */
const CANCEL_TIMEOUT_MS = 5_000;

export const A2A_CONFIG_SCHEMA: JsonObject = {
  type: 'object',
  required: ['agentCardUrl'],
  properties: {
    agentCardUrl: { type: 'string', pattern: '^https?://', maxLength: 4000 },
    tokenEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
    streaming: { type: 'boolean' },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 86400000 },
  },
};

interface RemoteState {
  taskId: string | null;
  contextId: string | null;
  state: TaskStateName;
  statusMessage: MessageDto | undefined;
  artifacts: Map<string, ArtifactDto>;
  /** A direct message answer (an agent that answers without a task). */
  message: MessageDto | undefined;
}

@Injectable()
export class A2aAgentRunner extends RegisteredAgentRunner {
  readonly type = 'a2a' as const;
  override readonly configSchema = A2A_CONFIG_SCHEMA;

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const config = context.config as unknown as A2aAgentConfig;
    if (typeof config.agentCardUrl !== 'string') throw new AgentError('AGENT_CONFIG', 'an a2a agent needs config.agentCardUrl', false);
    const token = config.tokenEnv ? requireEnvSecret(config.tokenEnv) : undefined;
    const redact = (text: string) => (token ? redactSecrets(text, [token]) : text);
    const resume = remoteTaskOf(request.metadata?.remoteTask);
    const remote: RemoteState = {
      taskId: resume?.taskId ?? null,
      contextId: resume?.contextId ?? null,
      state: 'TASK_STATE_SUBMITTED',
      statusMessage: undefined,
      artifacts: new Map(),
      message: undefined,
    };
    let client: Client | undefined;
    const onAbort = () => {
      if (client && remote.taskId) void cancelRemote(client, remote.taskId);
    };
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      client = await this.client(config, token, context.signal);
      const message = Message.fromJSON({
        messageId: randomUUID(),
        role: 'ROLE_USER',
        parts: request.message.parts,
        ...(remote.taskId ? { taskId: remote.taskId } : {}),
        ...(remote.contextId ? { contextId: remote.contextId } : {}),
        ...(request.message.metadata ? { metadata: request.message.metadata } : {}),
      });
      const params = { tenant: '', message, configuration: undefined, metadata: undefined };
      const card = await client.getAgentCard({ signal: context.signal });
      if (card.capabilities?.streaming && config.streaming !== false) {
        for await (const event of client.sendMessageStream(params, { signal: context.signal })) apply(remote, event, context);
      } else {
        const result = await client.sendMessage(params, { signal: context.signal });
        if ('status' in result) applyTask(remote, Task.toJSON(result) as TaskResponseDto);
        else remote.message = Message.toJSON(result) as MessageDto;
      }
    } catch (error) {
      if (context.signal.aborted) {
        onAbort();
        throw new AgentError(ABORTED_ERROR, 'aborted', false);
      }
      if (error instanceof AgentError) throw error;
      const failure =
        error instanceof OutboundHttpError
          ? transportError('the A2A agent', error)
          : new AgentError(A2A_ERROR, `the A2A agent: ${errorText(error)}`, true);
      throw new AgentError(failure.code, redact(failure.message), failure.retryable, failure.retryAfterMs);
    } finally {
      context.signal.removeEventListener('abort', onAbort);
    }
    return answer(remote, request, redact);
  }

  private async client(config: A2aAgentConfig, token: string | undefined, signal: AbortSignal): Promise<Client> {
    const guarded = createOutboundWebFetch(
      { allowPrivateNetworks: this.appConfig.agentAllowPrivateNetworks },
      { timeoutMs: config.timeoutMs ?? DEFAULT_A2A_TIMEOUT_MS },
    );
    const fetchImpl = ((input: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return guarded(input, { ...init, headers, signal: init?.signal ?? signal });
    }) as typeof fetch;
    const factory = new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
        cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
      }),
    );
    return factory.createFromUrl(config.agentCardUrl, '');
  }
}

function remoteTaskOf(value: JsonValue | undefined): RemoteTaskRef | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return typeof value.taskId === 'string' && typeof value.contextId === 'string'
    ? { taskId: value.taskId, contextId: value.contextId }
    : undefined;
}

async function cancelRemote(client: Client, taskId: string): Promise<void> {
  try {
    await client.cancelTask({ tenant: '', id: taskId, metadata: undefined }, { signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
  } catch {
    // best effort: the task may have finished meanwhile, or the agent may not support cancelling
  }
}

function apply(remote: RemoteState, event: StreamResponse, context: AgentExecutionContext): void {
  const payload = event.payload;
  if (!payload) return;
  switch (payload.$case) {
    case 'task':
      applyTask(remote, Task.toJSON(payload.value) as TaskResponseDto);
      return;
    case 'message':
      remote.message = Message.toJSON(payload.value) as MessageDto;
      return;
    case 'statusUpdate': {
      const update = payload.value;
      remote.taskId ??= update.taskId;
      remote.contextId ??= update.contextId;
      remote.state = taskStateToJSON(update.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) as TaskStateName;
      remote.statusMessage = update.status?.message ? (Message.toJSON(update.status.message) as MessageDto) : undefined;
      const text = textOf(remote.statusMessage?.parts ?? []);
      context.onProgress({ type: A2A_PROGRESS_STATUS, state: remote.state, ...(text ? { text } : {}), taskId: update.taskId });
      return;
    }
    case 'artifactUpdate': {
      const update = payload.value;
      if (!update.artifact) return;
      const artifact = Artifact.toJSON(update.artifact) as ArtifactDto;
      const known = remote.artifacts.get(artifact.artifactId);
      remote.artifacts.set(
        artifact.artifactId,
        update.append && known ? { ...known, parts: [...known.parts, ...artifact.parts] } : artifact,
      );
      context.onProgress({
        type: A2A_PROGRESS_ARTIFACT,
        artifactId: artifact.artifactId,
        ...(artifact.name ? { name: artifact.name } : {}),
        lastChunk: update.lastChunk,
      });
      return;
    }
  }
}

function applyTask(remote: RemoteState, task: TaskResponseDto): void {
  remote.taskId = task.id;
  remote.contextId = task.contextId;
  remote.state = task.status?.state ?? remote.state;
  remote.statusMessage = task.status?.message;
  for (const artifact of task.artifacts ?? []) remote.artifacts.set(artifact.artifactId, artifact);
}

function textOf(parts: PartDto[]): string {
  return parts
    .filter((p) => typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n');
}

function firstData(parts: PartDto[]): JsonValue | undefined {
  return parts.find((p) => p.data !== undefined)?.data;
}

/** The remote outcome as Baton's answer: completed (artifacts -> output), input-required (with the question), or an error. */
function answer(remote: RemoteState, request: TaskRequestDto, redact: (text: string) => string): TaskResponseDto {
  const id = remote.taskId ?? request.taskId ?? randomUUID();
  const contextId = remote.contextId ?? request.contextId ?? id;
  const artifacts = [...remote.artifacts.values()];
  const ref = remote.taskId ? { taskId: remote.taskId, contextId } : null;
  const timestamp = new Date().toISOString();
  if (remote.message && !remote.taskId) remote.state = 'TASK_STATE_COMPLETED';
  switch (remote.state) {
    case 'TASK_STATE_COMPLETED': {
      const parts = [...artifacts.flatMap((a) => a.parts), ...(remote.message?.parts ?? [])];
      const output: JsonObject = {
        remoteTask: ref,
        text: textOf(parts),
        data: firstData(parts) ?? null,
        artifacts: artifacts.map((a) => ({ artifactId: a.artifactId, name: a.name ?? null, parts: a.parts as unknown as JsonValue })),
      };
      return {
        id,
        contextId,
        status: { state: 'TASK_STATE_COMPLETED', timestamp },
        artifacts: [{ artifactId: `${id}:output`, name: 'output', parts: [dataPart(output)] }, ...artifacts],
        metadata: { remoteTask: ref },
      };
    }
    case 'TASK_STATE_INPUT_REQUIRED': {
      const question = textOf(remote.statusMessage?.parts ?? []);
      return {
        id,
        contextId,
        status: {
          state: 'TASK_STATE_INPUT_REQUIRED',
          message: remote.statusMessage ?? agentMessage([{ text: 'the remote agent needs input' }], id, contextId),
          timestamp,
        },
        artifacts: [
          {
            artifactId: `${id}:input-required`,
            name: 'input-required',
            parts: [dataPart({ remoteTask: ref, question, data: firstData(remote.statusMessage?.parts ?? []) ?? null })],
          },
        ],
        metadata: { remoteTask: ref },
      };
    }
    case 'TASK_STATE_FAILED':
      throw new AgentError(
        'A2A_TASK_FAILED',
        redact(`the remote task failed: ${textOf(remote.statusMessage?.parts ?? []) || 'no reason given'}`),
        true,
      );
    default: {
      // rejected, canceled, auth-required, or a stream that ended while the task was still working
      const reason = textOf(remote.statusMessage?.parts ?? []);
      throw new AgentError(
        `A2A_${remote.state.replace('TASK_STATE_', '')}`,
        redact(`the remote task ended ${remote.state}${reason ? `: ${reason}` : ''}`),
        false,
      );
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
