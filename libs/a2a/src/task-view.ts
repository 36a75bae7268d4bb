/**
 * Runs and their events as A2A protocol objects (the SDK's in-memory form; the transport writes the JSON):
 * - task id = run id; state from the run status (awaiting_approval = TASK_STATE_INPUT_REQUIRED);
 * - a paused run's status message carries one `orchestration.approval` data part per pending approval;
 * - a failed run's status message carries an `orchestration.error` data part; a completed run has the artifact
 *   `result` holding its output as a data part;
 * - step events become WORKING status updates ("Step i/n: key" + an `orchestration.step` data part), step progress
 *   passes through as an `orchestration.progress` data part, and each turn of a group step becomes a WORKING update
 *   whose text is what the speaker said (with an `orchestration.group_turn` data part naming the turn and speaker).
 */
import { TaskState, type Message, type Part, type StreamResponse, type Task, type TaskStatus } from '@a2a-js/sdk';
import type { JsonValue, RunStatus } from '#core';
import { TASK_STATE_OF_RUN } from './task-state.js';
import { protocolAgentMessage, protocolArtifact, protocolDataPart, protocolTextPart } from './protocol-parts.js';

/** A run as its task shows it (the A2A server reads more; push notifications read this much). */
export interface TaskRun {
  id: string;
  contextId: string;
  status: RunStatus;
  output: JsonValue;
  error: JsonValue;
  updatedAt: Date;
  definitionSlug: string;
  definitionVersion: number;
}

/** One event of the run's log (structurally the events library's EventRecord). */
export interface LoggedEvent {
  id: string;
  type: string;
  stepKey: string | null;
  payload: JsonValue;
  createdAt: string;
}

export const RESULT_ARTIFACT_ID = 'result';

/** Run statuses behind each task state a client may filter on (REJECTED and AUTH_REQUIRED have none). */
export const RUN_STATUSES_OF_STATE: Partial<Record<TaskState, RunStatus[]>> = {
  [TaskState.TASK_STATE_SUBMITTED]: ['pending'],
  [TaskState.TASK_STATE_WORKING]: ['running'],
  [TaskState.TASK_STATE_INPUT_REQUIRED]: ['awaiting_approval'],
  [TaskState.TASK_STATE_COMPLETED]: ['completed'],
  [TaskState.TASK_STATE_FAILED]: ['failed'],
  [TaskState.TASK_STATE_CANCELED]: ['cancelled'],
};

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/** A pending checkpoint as the client sees it. */
export interface PendingApproval {
  approvalId: string;
  stepKey: string;
  prompt: string;
  payload: JsonValue;
  allowedDecisions: string[];
}

export function approvalPart(approval: PendingApproval): Part {
  return protocolDataPart({ type: 'orchestration.approval', ...approval });
}

function approvalMessage(approvals: PendingApproval[], run: Pick<TaskRun, 'id' | 'contextId'>): Message {
  return protocolAgentMessage(
    [protocolTextPart(approvals.map((a) => a.prompt).join('\n')), ...approvals.map(approvalPart)],
    run.id,
    run.contextId,
  );
}

/** `{ step, error: { message } }` as the engine stores a run's failure. */
export function failureOf(error: JsonValue): { stepKey: string | null; message: string } {
  if (error && typeof error === 'object' && !Array.isArray(error)) {
    const inner = error.error;
    const stepKey = typeof error.step === 'string' ? error.step : null;
    if (inner && typeof inner === 'object' && !Array.isArray(inner) && typeof inner.message === 'string')
      return { stepKey, message: inner.message };
    if (typeof error.message === 'string') return { stepKey, message: error.message };
    if (typeof error.reason === 'string') return { stepKey, message: error.reason };
  }
  return { stepKey: null, message: 'run failed' };
}

function failureMessage(error: JsonValue, run: Pick<TaskRun, 'id' | 'contextId'>): Message {
  const { stepKey, message } = failureOf(error);
  return protocolAgentMessage(
    [
      protocolTextPart(stepKey ? `Step ${stepKey} failed: ${message}` : message),
      protocolDataPart({ type: 'orchestration.error', stepKey, message }),
    ],
    run.id,
    run.contextId,
  );
}

export function resultArtifact(output: JsonValue) {
  return protocolArtifact(RESULT_ARTIFACT_ID, [protocolDataPart(output)]);
}

export function taskOfRun(run: TaskRun, pending: PendingApproval[], history: Message[]): Task {
  let message: Message | undefined;
  if (run.status === 'awaiting_approval' && pending.length > 0) message = approvalMessage(pending, run);
  if (run.status === 'failed') message = failureMessage(run.error, run);
  return {
    id: run.id,
    contextId: run.contextId,
    status: { state: TASK_STATE_OF_RUN[run.status], message, timestamp: run.updatedAt.toISOString() },
    artifacts: run.status === 'completed' ? [resultArtifact(run.output)] : [],
    history,
    metadata: { definition: run.definitionSlug, version: run.definitionVersion, runStatus: run.status },
  };
}

/** Where each step sits in its run (1-based), to say "Step i/n". */
export interface StepPositions {
  index: ReadonlyMap<string, number>;
  count: number;
}

export const STEP_STATUS_BY_EVENT: Partial<Record<string, string>> = {
  'step.started': 'running',
  'step.completed': 'completed',
  'step.retrying': 'retrying',
  'step.skipped': 'skipped',
  'step.failed': 'failed',
};

/**
 * The stream responses one logged event becomes (often none). Pure: the same event always maps the same way, so a
 * replay from the log and a live stream say the same thing.
 */
export function streamResponsesOf(event: LoggedEvent, run: Pick<TaskRun, 'id' | 'contextId'>, steps: StepPositions): StreamResponse[] {
  const status = (state: TaskState, message?: Message): StreamResponse => {
    const taskStatus: TaskStatus = { state, message, timestamp: event.createdAt };
    return {
      payload: {
        $case: 'statusUpdate',
        value: { taskId: run.id, contextId: run.contextId, status: taskStatus, metadata: { eventId: event.id, eventType: event.type } },
      },
    };
  };
  const payload = (event.payload ?? {}) as { [key: string]: JsonValue };
  const stepStatus = STEP_STATUS_BY_EVENT[event.type];
  if (stepStatus && event.stepKey) {
    const stepIndex = steps.index.get(event.stepKey) ?? 0;
    const data = { type: 'orchestration.step', stepKey: event.stepKey, stepIndex, stepCount: steps.count, status: stepStatus };
    const text = `Step ${stepIndex}/${steps.count}: ${event.stepKey}${stepStatus === 'running' ? '' : ` ${stepStatus}`}`;
    return [
      status(TaskState.TASK_STATE_WORKING, protocolAgentMessage([protocolTextPart(text), protocolDataPart(data)], run.id, run.contextId)),
    ];
  }
  switch (event.type) {
    case 'step.progress': {
      const progress = payload.progress ?? null;
      const parts = [protocolDataPart({ type: 'orchestration.progress', stepKey: event.stepKey, progress })];
      const token = progress && typeof progress === 'object' && !Array.isArray(progress) ? (progress.text ?? progress.token) : progress;
      if (typeof token === 'string') parts.unshift(protocolTextPart(token));
      return [status(TaskState.TASK_STATE_WORKING, protocolAgentMessage(parts, run.id, run.contextId))];
    }
    case 'group.turn': {
      const text = typeof payload.text === 'string' ? payload.text : '';
      const data = {
        type: 'orchestration.group_turn',
        stepKey: event.stepKey,
        turn: payload.turn ?? null,
        speaker: payload.speaker ?? null,
        agent: payload.agent ?? null,
        text,
      };
      const speaker = typeof payload.speaker === 'string' ? payload.speaker : 'participant';
      return [
        status(
          TaskState.TASK_STATE_WORKING,
          protocolAgentMessage([protocolTextPart(`${speaker}: ${text}`), protocolDataPart(data)], run.id, run.contextId),
        ),
      ];
    }
    case 'checkpoint.requested': {
      const approval: PendingApproval = {
        approvalId: String(payload.approvalId),
        stepKey: event.stepKey ?? '',
        prompt: typeof payload.prompt === 'string' ? payload.prompt : '',
        payload: payload.payload ?? null,
        allowedDecisions: Array.isArray(payload.decisions) ? payload.decisions.map(String) : [],
      };
      return [status(TaskState.TASK_STATE_INPUT_REQUIRED, approvalMessage([approval], run))];
    }
    case 'run.resumed':
      return [status(TaskState.TASK_STATE_WORKING)];
    case 'run.completed':
      return [
        {
          payload: {
            $case: 'artifactUpdate',
            value: {
              taskId: run.id,
              contextId: run.contextId,
              artifact: resultArtifact(payload.output ?? null),
              append: false,
              lastChunk: true,
              metadata: undefined,
            },
          },
        },
        status(TaskState.TASK_STATE_COMPLETED),
      ];
    case 'run.failed':
      return [status(TaskState.TASK_STATE_FAILED, failureMessage(payload.error ?? null, run))];
    case 'run.cancelled':
      return [status(TaskState.TASK_STATE_CANCELED)];
    default:
      return [];
  }
}

export function isFinalState(state: TaskState | undefined): boolean {
  return (
    state === TaskState.TASK_STATE_COMPLETED ||
    state === TaskState.TASK_STATE_FAILED ||
    state === TaskState.TASK_STATE_CANCELED ||
    state === TaskState.TASK_STATE_REJECTED
  );
}
