import { TaskState, taskStateToJSON } from '@a2a-js/sdk';
import type { RunStatus } from '#core';

/** A2A v1.0 task state names as they appear on the wire (`TASK_STATE_*`), from the official SDK's enum. */
export type TaskStateName =
  | 'TASK_STATE_SUBMITTED'
  | 'TASK_STATE_WORKING'
  | 'TASK_STATE_COMPLETED'
  | 'TASK_STATE_FAILED'
  | 'TASK_STATE_CANCELED'
  | 'TASK_STATE_INPUT_REQUIRED'
  | 'TASK_STATE_REJECTED'
  | 'TASK_STATE_AUTH_REQUIRED';

/** The task state of each run status (awaiting_approval is the interrupted INPUT_REQUIRED). */
export const TASK_STATE_OF_RUN: Record<RunStatus, TaskState> = {
  pending: TaskState.TASK_STATE_SUBMITTED,
  running: TaskState.TASK_STATE_WORKING,
  awaiting_approval: TaskState.TASK_STATE_INPUT_REQUIRED,
  completed: TaskState.TASK_STATE_COMPLETED,
  failed: TaskState.TASK_STATE_FAILED,
  cancelled: TaskState.TASK_STATE_CANCELED,
};

export function taskStateOfRun(status: RunStatus): TaskStateName {
  return taskStateToJSON(TASK_STATE_OF_RUN[status]) as TaskStateName;
}

export const TERMINAL_TASK_STATES: readonly TaskStateName[] = [
  'TASK_STATE_COMPLETED',
  'TASK_STATE_FAILED',
  'TASK_STATE_CANCELED',
  'TASK_STATE_REJECTED',
];
