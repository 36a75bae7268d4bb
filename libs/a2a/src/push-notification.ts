/**
 * What an A2A push notification POSTs for one logged event: a StreamResponse in the protocol JSON form (spec 4.3.3),
 * the same mapping as the streams, except that a completed run is sent as the whole task (its status and the result
 * artifact in one notification: a receiver that missed nothing else still has the output).
 */
import { StreamResponse, TaskState } from '@a2a-js/sdk';
import type { JsonValue } from '#core';
import { resultArtifact, STEP_STATUS_BY_EVENT, streamResponsesOf, type LoggedEvent, type StepPositions } from './task-view.js';

/** The event types that become notifications (a push target subscribes to these only). */
export const PUSHED_EVENT_TYPES = [
  ...Object.keys(STEP_STATUS_BY_EVENT),
  'step.progress',
  'group.turn',
  'checkpoint.requested',
  'run.resumed',
  'run.completed',
  'run.failed',
  'run.cancelled',
];

export interface PushTask {
  taskId: string;
  contextId: string;
}

/** The JSON body for `event`, or null when the event says nothing to an A2A client. */
export function pushNotificationBody(event: LoggedEvent, task: PushTask, steps: StepPositions): string | null {
  const run = { id: task.taskId, contextId: task.contextId };
  let response: StreamResponse | undefined;
  if (event.type === 'run.completed') {
    const output = ((event.payload ?? {}) as { output?: JsonValue }).output ?? null;
    response = {
      payload: {
        $case: 'task',
        value: {
          id: task.taskId,
          contextId: task.contextId,
          status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: event.createdAt },
          artifacts: [resultArtifact(output)],
          history: [],
          metadata: { eventId: event.id, eventType: event.type },
        },
      },
    };
  } else {
    response = streamResponsesOf(event, run, steps)[0];
  }
  return response ? JSON.stringify(StreamResponse.toJSON(response)) : null;
}
