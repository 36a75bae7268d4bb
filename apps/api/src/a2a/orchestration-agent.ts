/**
 * One orchestration definition served as an A2A agent, for one authenticated caller: the single implementation of
 * the protocol's operations behind both wire mappings (the SDK's v1.0 JsonRpcTransportHandler and its v0.3
 * LegacyJsonRpcTransportHandler). It keeps no state of its own and no in-memory bus:
 * - the task store is PostgreSQL (task id = run id; contexts and client messages in a2a_tasks/a2a_task_messages);
 * - every message in, and every answer out, is also appended to its context's history (ConversationsService,
 *   docs/conversations.md), so a conversation outlives the process that served it;
 * - runs start through RunStarter and approvals are decided through the OrchestrationRunner, as over REST;
 * - cancellation goes through RunControlService (the run is cancelled, its running steps aborted);
 * - waiting, streaming and subscribing read the run's event log through RunStreamHub (replay, then live), so any
 *   API instance answers for any task, and a paused task costs nothing until someone listens.
 */
import type { A2ARequestHandler, ServerCallContext } from '@a2a-js/sdk/server';
import {
  Message,
  TaskState,
  type AgentCard,
  type CancelTaskRequest,
  type DeleteTaskPushNotificationConfigRequest,
  type GetTaskPushNotificationConfigRequest,
  type ListTaskPushNotificationConfigsRequest,
  type GetTaskRequest,
  type ListTaskPushNotificationConfigsResponse,
  type ListTasksRequest,
  type ListTasksResponse,
  type SendMessageRequest,
  type StreamResponse,
  type SubscribeToTaskRequest,
  type Task,
  type TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import { JsonRpcTaskNotFoundError, JsonRpcUnsupportedOperationError } from '@a2a-js/sdk/errors';
import { randomUUID } from 'node:crypto';
import {
  firstDataPart,
  isFinalState,
  RUN_STATUSES_OF_STATE,
  streamResponsesOf,
  TASK_STATE_OF_RUN,
  taskOfRun,
  TERMINAL_RUN_STATUSES,
  textOf,
  type PendingApproval,
  type StepPositions,
} from '#a2a';
import type { AgentRunnerRegistry } from '#agents';
import { DomainError, DomainErrorCode, isUuid, type JsonValue, type Role } from '#core';
import type { ApprovalQueryService, DefinitionCache, RunControlService, RunStarter } from '#engine';
import { inputProblems, sendDecision, type Decision } from '#engine';
import type { RunStreamHub } from '#events';
import { actorOf, type Principal } from '#identity';
import type { OrchestrationDefinitionEntity, StepsRepository } from '#persistence';
import type { ConversationsService } from '#conversations';
import { validateWebhookUrl, type A2aPushTargetsRepository } from '#webhooks';
import { forbidden, fromDomainError, invalidParams, taskNotCancelable, taskNotFound, unsupported } from './a2a-errors.js';
import { taskViewOf, type A2aTaskRepository, type TaskRun } from './a2a-task.repository.js';
import { RunEventQueue } from './run-event-queue.js';

/** Where the HTTP layer puts the request's abort signal (the client went away) in the call context. */
export const ABORT_SIGNAL_KEY = 'baton.abortSignal';

export interface AgentServices {
  starter: RunStarter;
  control: RunControlService;
  approvals: ApprovalQueryService;
  registry: AgentRunnerRegistry;
  hub: RunStreamHub;
  tasks: A2aTaskRepository;
  steps: StepsRepository;
  definitions: DefinitionCache;
  push: A2aPushTargetsRepository;
  conversations: ConversationsService;
  /** Appends the task's current answer (result, failure, checkpoint prompt) to its context's history; never throws. */
  recordAnswer: (organizationId: string, runId: string) => Promise<void>;
  /** Counts a run creation against the organization's limit; rejects (A2A error) when it is reached. */
  consumeStart: (organizationId: string) => Promise<void>;
  allowPrivateNetworks: boolean;
}

type JsonObject = { [key: string]: JsonValue };
const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;
/** Context and message ids are stored as varchar(200), as POST /orchestrations/runs checks them. */
const MAX_ID_LENGTH = 200;

/** Whether a text-only message is a valid input: `{ text }` passes the definition's input schema (or it has none). */
export function acceptsText(definitions: DefinitionCache, definition: OrchestrationDefinitionEntity): boolean {
  return inputProblems(definitions.put(definition), { text: 'x' }).length === 0;
}

interface Accepted {
  runId: string;
  /** The log position the task's updates follow from (0 for a new task: its whole history). */
  afterSeq: number;
  /** A task this message created: the run as its creation left it, and the message as stored (its whole history). */
  created?: { run: TaskRun; message: unknown };
}

export class OrchestrationAgent implements A2ARequestHandler {
  constructor(
    private readonly services: AgentServices,
    private readonly definition: OrchestrationDefinitionEntity,
    private readonly principal: Principal,
    private readonly card: AgentCard,
  ) {}

  private get organizationId(): string {
    return this.principal.organizationId;
  }

  getAgentCard(): Promise<AgentCard> {
    return Promise.resolve(this.card);
  }

  getAuthenticatedExtendedAgentCard(): Promise<AgentCard> {
    return Promise.reject(new JsonRpcUnsupportedOperationError({ message: 'This agent has no extended agent card' }));
  }

  async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Task> {
    const accepted = await this.accept(params);
    const historyLength = this.historyLength(params.configuration?.historyLength, 'configuration.historyLength');
    if (!params.configuration?.returnImmediately) {
      await this.waitUntilInterrupted(accepted, signalOf(context));
      // The answer is in the context's history before the client can send its next message.
      await this.services.recordAnswer(this.organizationId, accepted.runId);
    } else if (accepted.created) {
      // Answered at once: a task this message created is the run as its creation left it, its history this message
      // (as REST answers a start with the run's row as inserted, with no read back).
      const { run, message } = accepted.created;
      return taskOfRun(run, [], historyLength === 0 ? [] : [Message.fromJSON(message)]);
    }
    return this.task(accepted.runId, historyLength);
  }

  async *sendMessageStream(params: SendMessageRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    const accepted = await this.accept(params);
    const run = await this.find(accepted.runId);
    yield { payload: { $case: 'task', value: await this.taskOf(run, undefined) } };
    // Like the SDK's own server, a message stream ends when the task needs input: the client answers with a new
    // message (SendStreamingMessage with the taskId), or follows the task with SubscribeToTask.
    yield* this.follow(run, accepted.afterSeq, true, signalOf(context));
    await this.services.recordAnswer(this.organizationId, accepted.runId);
  }

  async getTask(params: GetTaskRequest): Promise<Task> {
    const id = this.taskId(params.id, 'id');
    return this.task(id, this.historyLength(params.historyLength, 'historyLength'));
  }

  async listTasks(params: ListTasksRequest): Promise<ListTasksResponse> {
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)
      throw invalidParams('pageSize', `an integer from 1 to ${MAX_PAGE_SIZE}`);
    const historyLength = this.historyLength(params.historyLength, 'historyLength');
    if (params.status === TaskState.UNRECOGNIZED)
      throw invalidParams(
        'status',
        `one of ${Object.keys(TaskState)
          .filter((k) => k.startsWith('TASK_STATE_') && k !== 'TASK_STATE_UNSPECIFIED')
          .join(', ')}`,
      );
    const statuses =
      params.status === TaskState.TASK_STATE_UNSPECIFIED || params.status === undefined
        ? undefined
        : (RUN_STATUSES_OF_STATE[params.status] ?? []);
    let updatedAfter: Date | undefined;
    if (params.statusTimestampAfter) {
      updatedAfter = new Date(params.statusTimestampAfter);
      if (Number.isNaN(updatedAfter.getTime())) throw invalidParams('statusTimestampAfter', 'an ISO 8601 timestamp');
    }
    const after = params.pageToken ? decodePageToken(params.pageToken) : undefined;
    const page = await this.services.tasks.list(this.organizationId, {
      definitionSlug: this.definition.slug,
      contextId: params.contextId || undefined,
      statuses,
      updatedAfter,
      after,
      limit: pageSize,
    });
    const tasks = await Promise.all(page.items.map((run) => this.taskOf(run, historyLength)));
    if (!params.includeArtifacts) for (const task of tasks) task.artifacts = [];
    const last = page.items.at(-1);
    const more = last !== undefined && page.items.length === pageSize;
    return { tasks, nextPageToken: more ? encodePageToken(last) : '', pageSize, totalSize: page.total };
  }

  async cancelTask(params: CancelTaskRequest): Promise<Task> {
    this.require(['operator'], 'cancel tasks');
    const id = this.taskId(params.id, 'id');
    const run = await this.find(id);
    if (TERMINAL_RUN_STATUSES.includes(run.status)) throw taskNotCancelable(id, TaskState[TASK_STATE_OF_RUN[run.status]]);
    try {
      await this.services.control.cancel(this.organizationId, id, { type: this.principal.kind, id: this.principal.id }, 'A2A CancelTask');
    } catch (error) {
      // The run finished between our read and the cancel's lock.
      if (error instanceof DomainError && error.code === DomainErrorCode.InvalidState) throw taskNotCancelable(id, 'finished');
      throw error;
    }
    return this.task(id, undefined);
  }

  async *resubscribe(params: SubscribeToTaskRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    const id = this.taskId(params.id, 'id');
    const run = await this.find(id);
    if (TERMINAL_RUN_STATUSES.includes(run.status))
      throw unsupported(`Task ${id} is ${TaskState[TASK_STATE_OF_RUN[run.status]]}: a terminal task cannot be subscribed to`);
    yield { payload: { $case: 'task', value: await this.taskOf(run, undefined) } };
    yield* this.follow(run, run.lastSeq, false, signalOf(context));
  }

  // --- push notifications (delivered by the webhook outbox, see A2aPushTargetsRepository) ---

  async createTaskPushNotificationConfig(params: TaskPushNotificationConfig): Promise<TaskPushNotificationConfig> {
    this.require(['operator'], 'configure push notifications');
    const run = await this.find(this.taskId(params.taskId, 'taskId'));
    return this.savePushConfig(run, params);
  }

  async getTaskPushNotificationConfig(params: GetTaskPushNotificationConfigRequest): Promise<TaskPushNotificationConfig> {
    const run = await this.find(this.taskId(params.taskId, 'taskId'));
    const config = await this.services.push.find(this.organizationId, run.id, params.id);
    if (!config) throw pushConfigNotFound(run.id, params.id);
    return { tenant: '', ...config, authentication: config.authentication ?? undefined };
  }

  async listTaskPushNotificationConfigs(params: ListTaskPushNotificationConfigsRequest): Promise<ListTaskPushNotificationConfigsResponse> {
    const run = await this.find(this.taskId(params.taskId, 'taskId'));
    const configs = await this.services.push.list(this.organizationId, run.id);
    return { configs: configs.map((c) => ({ tenant: '', ...c, authentication: c.authentication ?? undefined })), nextPageToken: '' };
  }

  async deleteTaskPushNotificationConfig(params: DeleteTaskPushNotificationConfigRequest): Promise<void> {
    this.require(['operator'], 'configure push notifications');
    const run = await this.find(this.taskId(params.taskId, 'taskId'));
    if (!(await this.services.push.delete(this.organizationId, run.id, params.id))) throw pushConfigNotFound(run.id, params.id);
  }

  private async savePushConfig(run: TaskRun, params: TaskPushNotificationConfig, backfill = false): Promise<TaskPushNotificationConfig> {
    let url: string;
    try {
      url = validateWebhookUrl(params.url ?? '', this.services.allowPrivateNetworks);
    } catch (error) {
      return fromDomainError(error, 'url');
    }
    const scheme = params.authentication?.scheme?.trim();
    const authentication = scheme ? { scheme, credentials: params.authentication?.credentials ?? '' } : null;
    const id = params.id || randomUUID();
    await this.services.push.upsert(
      this.organizationId,
      { id, taskId: run.id, url, token: params.token ?? '', authentication },
      run.contextId,
      this.principal.userId,
      backfill,
    );
    return { tenant: '', id, taskId: run.id, url, token: params.token ?? '', authentication: authentication ?? undefined };
  }

  // --- sending ---

  /** Starts a task, or resumes one waiting for input; returns where its updates follow from. */
  private async accept(params: SendMessageRequest): Promise<Accepted> {
    const message = params.message;
    if (!message || message.parts.length === 0) throw invalidParams('message.parts', 'a message with at least one part');
    for (const [field, value] of [['message.contextId', message.contextId], ['message.messageId', message.messageId]] as const)
      if (typeof value === 'string' && value.length > MAX_ID_LENGTH) throw invalidParams(field, `at most ${MAX_ID_LENGTH} characters`);
    const accepted = message.taskId ? await this.resume(message) : await this.start(message, params.metadata);
    const push = params.configuration?.taskPushNotificationConfig;
    if (push) await this.savePushConfig(await this.find(accepted.runId), push, !message.taskId);
    return accepted;
  }

  private async start(message: Message, metadata: { [key: string]: unknown } | undefined): Promise<Accepted> {
    this.require(['operator'], 'start tasks');
    const input = this.inputOf(message);
    await this.services.consumeStart(this.organizationId);
    const contextId = message.contextId || randomUUID();
    // A context the client named may have expired; one generated here is new.
    if (message.contextId) {
      try {
        await this.services.conversations.assertOpen(this.organizationId, contextId);
      } catch (error) {
        return fromDomainError(error, 'message.contextId');
      }
    }
    const key = message.messageId && message.messageId.length <= 190 ? `a2a:${message.messageId}` : null;
    let started: Awaited<ReturnType<RunStarter['start']>>;
    try {
      started = await this.services.starter.start({
        organizationId: this.organizationId,
        definition: this.definition.slug,
        version: this.definition.version,
        input,
        idempotencyKey: key,
        priority: typeof metadata?.priority === 'number' ? metadata.priority : 0,
        actorUserId: this.principal.userId,
        contextId,
      });
    } catch (error) {
      return fromDomainError(error, 'message.parts[data]');
    }
    const { run, created } = started;
    const runId = run.id;
    // A repeated start (same messageId) keeps the run's first context; the message is stored with the context it has.
    const json = Message.toJSON({ ...message, taskId: runId, contextId }) as { parts: JsonValue[] };
    const taskContext = await this.services.tasks.recordStart(this.organizationId, runId, contextId, json);
    try {
      await this.services.conversations.recordUserMessage(this.organizationId, taskContext, {
        runId,
        messageId: message.messageId || null,
        parts: json.parts,
      });
    } catch (error) {
      return fromDomainError(error, 'message.contextId');
    }
    if (!created) return { runId, afterSeq: 0 };
    const taskRun: TaskRun = { ...taskViewOf(run, taskContext), updatedKey: run.updatedAt.toISOString(), lastSeq: run.lastSeq };
    return { runId, afterSeq: 0, created: { run: taskRun, message: { ...json, contextId: taskContext } } };
  }

  /** The run input a message carries: its first data part, else `{ text }` when the input schema allows it. */
  private inputOf(message: Message): JsonValue {
    const data = firstDataPart(message);
    const schema = JSON.stringify(this.definition.spec.input ?? {});
    if (data !== undefined) {
      const problems = inputProblems(this.services.definitions.put(this.definition), data);
      if (problems.length > 0)
        throw invalidParams(
          'message.parts[data]',
          `input matching the input schema ${schema} (${problems.map((p) => `${p.path} ${p.message}`).join('; ')})`,
        );
      return data;
    }
    const text = textOf(message);
    if (text === null) throw invalidParams('message.parts', `a data part holding the input (JSON Schema ${schema}), or a text part`);
    if (!acceptsText(this.services.definitions, this.definition))
      throw invalidParams(
        'message.parts',
        `a data part holding the input matching the JSON Schema ${schema}; a text-only message ({"text": ...}) does not match it`,
      );
    return { text };
  }

  /** A decision on the task's pending approval, through the OrchestrationRunner like every other decision. */
  private async resume(message: Message): Promise<Accepted> {
    const run = await this.find(message.taskId);
    if (message.contextId && message.contextId !== run.contextId)
      throw invalidParams('message.contextId', `the task's context ${run.contextId} (or none)`);
    if (TERMINAL_RUN_STATUSES.includes(run.status))
      throw unsupported(`Task ${run.id} is ${TaskState[TASK_STATE_OF_RUN[run.status]]}: a terminal task accepts no more messages`);
    if (run.status !== 'awaiting_approval')
      throw unsupported(
        `Task ${run.id} is TASK_STATE_WORKING: it accepts a message only in TASK_STATE_INPUT_REQUIRED (a decision on its pending approval)`,
      );
    this.require(['approver'], 'decide approvals');
    const pending = await this.services.approvals.pendingOfRun(this.organizationId, run.id);
    const data = firstDataPart(message);
    const expected = (choices: string[]) =>
      `a data part {"approvalId": "<one of ${pending.map((p) => p.id).join(', ') || 'none'}>", "decision": "<${choices.join('|')}>", "modifications"?: {...}, "comment"?: "..."}`;
    if (!isObject(data) || typeof data.decision !== 'string')
      throw invalidParams('message.parts[data].decision', expected(pending[0]?.decisions ?? []));
    const approval =
      typeof data.approvalId === 'string' ? pending.find((p) => p.id === data.approvalId) : pending.length === 1 ? pending[0] : undefined;
    if (!approval)
      throw invalidParams('message.parts[data].approvalId', `a pending approval of this task: ${expected(pending[0]?.decisions ?? [])}`);
    if (!approval.decisions.includes(data.decision))
      throw invalidParams('message.parts[data].decision', `one of ${approval.decisions.join(', ')}`);
    if (data.comment !== undefined && typeof data.comment !== 'string') throw invalidParams('message.parts[data].comment', 'a string');
    try {
      await sendDecision(this.services.registry, {
        organizationId: this.organizationId,
        runId: run.id,
        contextId: run.contextId,
        definition: this.definition.slug,
        approvalId: approval.id,
        decision: data.decision as Decision,
        modifications: data.modifications,
        comment: data.comment as string | undefined,
        actor: actorOf(this.principal),
        messageId: message.messageId || undefined,
      });
    } catch (error) {
      return fromDomainError(error, 'message.parts[data]');
    }
    const json = Message.toJSON({ ...message, contextId: run.contextId }) as { parts: JsonValue[] };
    await this.services.tasks.appendMessage(this.organizationId, run.id, json);
    await this.recordDecision(run, message.messageId || null, json.parts);
    return { runId: run.id, afterSeq: run.lastSeq };
  }

  /**
   * The decision into the context's history. The decision is the task's and has been applied; a context that expired
   * meanwhile just does not record it.
   */
  private async recordDecision(run: TaskRun, messageId: string | null, parts: JsonValue[]): Promise<void> {
    try {
      await this.services.conversations.recordUserMessage(this.organizationId, run.contextId, { runId: run.id, messageId, parts });
    } catch (error) {
      if (!(error instanceof DomainError && error.code === DomainErrorCode.InvalidState)) throw error;
    }
  }

  /** Blocking SendMessage: until the task is final or needs input (read from the log, so across instances). */
  private async waitUntilInterrupted(accepted: Accepted, signal: AbortSignal | undefined): Promise<void> {
    const run = await this.find(accepted.runId);
    for await (const response of this.follow(run, accepted.afterSeq, true, signal)) void response;
  }

  // --- streaming ---

  /**
   * The task's updates after `afterSeq`, replayed from the log and then live; ends at a final state (and at
   * INPUT_REQUIRED when `stopAtInput`), or when the client goes away.
   */
  private async *follow(
    run: TaskRun,
    afterSeq: number,
    stopAtInput: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    if (TERMINAL_RUN_STATUSES.includes(run.status) && afterSeq >= run.lastSeq) return;
    if (stopAtInput && run.status === 'awaiting_approval' && afterSeq >= run.lastSeq) return;
    const steps = await this.positions(run.id);
    const queue = new RunEventQueue();
    const onAbort = () => queue.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      queue.subscription = await this.services.hub.subscribe({ runId: run.id, afterSeq, afterType: null, filter: null, sink: queue });
      if (signal?.aborted) return;
      for await (const event of queue) {
        for (const response of streamResponsesOf(event, run, steps)) {
          yield response;
          const state = response.payload?.$case === 'statusUpdate' ? response.payload.value.status?.state : undefined;
          if (isFinalState(state) || (stopAtInput && state === TaskState.TASK_STATE_INPUT_REQUIRED)) return;
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      queue.close();
    }
  }

  private async positions(runId: string): Promise<StepPositions> {
    const steps = await this.services.steps.listForRun(this.organizationId, runId);
    const ordered = [...steps].sort((a, b) => a.position - b.position);
    return { index: new Map(ordered.map((s, i) => [s.stepKey, i + 1])), count: ordered.length };
  }

  // --- reading ---

  private async find(taskId: string): Promise<TaskRun> {
    // Task ids are run ids; anything else names no task of ours (and must not reach a uuid column).
    if (!isUuid(taskId)) throw taskNotFound(taskId);
    const run = await this.services.tasks.find(this.organizationId, this.definition.slug, taskId);
    if (!run) throw taskNotFound(taskId);
    return run;
  }

  private async task(taskId: string, historyLength: number | undefined): Promise<Task> {
    return this.taskOf(await this.find(taskId), historyLength);
  }

  private async taskOf(run: TaskRun, historyLength: number | undefined): Promise<Task> {
    const pending: PendingApproval[] =
      run.status === 'awaiting_approval'
        ? (await this.services.approvals.pendingOfRun(this.organizationId, run.id)).map((a) => ({
            approvalId: a.id,
            stepKey: a.stepKey,
            prompt: a.prompt,
            payload: a.payload,
            allowedDecisions: a.decisions,
          }))
        : [];
    const history =
      historyLength === 0
        ? []
        : (await this.services.tasks.history(this.organizationId, run.id, historyLength ?? null)).map((m) => Message.fromJSON(m));
    return taskOfRun(run, pending, history);
  }

  // --- checks ---

  private require(roles: Role[], what: string): void {
    if (this.principal.role !== 'admin' && !roles.includes(this.principal.role))
      throw forbidden(`Role ${this.principal.role} may not ${what}; requires ${['admin', ...roles].join(' or ')}`);
  }

  private taskId(id: unknown, field: string): string {
    // 0.3 params reach us as the client sent them: a number or an object is no task id
    if (typeof id !== 'string' || !id.trim()) throw invalidParams(field, 'a task id');
    return id;
  }

  private historyLength(value: number | undefined, field: string): number | undefined {
    if (value === undefined) return undefined;
    if (!Number.isSafeInteger(value) || value < 0) throw invalidParams(field, 'a non-negative integer');
    return value;
  }
}

function pushConfigNotFound(taskId: string, id: string): Error {
  return new JsonRpcTaskNotFoundError({
    message: `Push notification config ${id} of task ${taskId} not found`,
    metadata: { taskId, configId: id },
  });
}

function signalOf(context: ServerCallContext): AbortSignal | undefined {
  const signal = context.state.get(ABORT_SIGNAL_KEY);
  return signal instanceof AbortSignal ? signal : undefined;
}

function encodePageToken(run: TaskRun): string {
  return Buffer.from(JSON.stringify({ u: run.updatedKey, i: run.id })).toString('base64url');
}

function decodePageToken(token: string): { updatedAt: string; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { u?: unknown; i?: unknown };
    if (
      typeof parsed.u === 'string' &&
      typeof parsed.i === 'string' &&
      /^[0-9a-f-]{36}$/i.test(parsed.i) &&
      /^\d{4}-\d{2}-\d{2}[ T][\d:.]+(Z|[+-]\d{2}(:?\d{2})?)?$/.test(parsed.u)
    )
      return { updatedAt: parsed.u, id: parsed.i };
  } catch {
    // fall through
  }
  throw invalidParams('pageToken', 'a nextPageToken from a previous ListTasks answer');
}
