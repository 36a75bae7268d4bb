/**
 * A run seen as an A2A task: state from the run status, the output as an artifact, the error as the status
 * message; a paused run (TASK_STATE_INPUT_REQUIRED) carries its pending approvals as a data part.
 */
import { agentMessage, dataPart, taskStateOfRun, type MessageDto, type TaskResponseDto } from '#a2a';
import type { JsonValue } from '#core';
import type { OrchestrationRunEntity } from '#persistence';
import type { ApprovalView } from '../approvals/approval-queries.service.js';

export function taskFromRun(run: OrchestrationRunEntity, extra: Record<string, JsonValue> = {}, pendingApprovals: ApprovalView[] = []): TaskResponseDto {
  const state = taskStateOfRun(run.status);
  const error = run.error as JsonValue | null;
  let message: MessageDto | undefined;
  if (run.status === 'failed' && error) message = agentMessage([{ text: describeError(error) }, dataPart(error)], run.id, run.id);
  if (run.status === 'awaiting_approval' && pendingApprovals.length > 0) {
    const approvals = pendingApprovals.map((a) => ({
      approvalId: a.id,
      stepKey: a.stepKey,
      prompt: a.prompt,
      payload: a.payload,
      decisions: a.decisions,
      quorum: a.quorum,
      expiresAt: a.expiresAt,
    }));
    message = agentMessage([{ text: pendingApprovals.map((a) => a.prompt).join('\n') }, dataPart({ approvals })], run.id, run.id);
  }
  return {
    id: run.id,
    contextId: run.parentRunId ?? run.id,
    status: { state, timestamp: run.updatedAt.toISOString(), ...(message ? { message } : {}) },
    artifacts: run.status === 'completed' ? [{ artifactId: `${run.id}:output`, name: 'output', parts: [dataPart((run.output ?? null) as JsonValue)] }] : [],
    metadata: { definition: run.definitionSlug, version: run.definitionVersion, runStatus: run.status, ...extra },
  };
}

function describeError(error: JsonValue): string {
  if (error && typeof error === 'object' && !Array.isArray(error)) {
    const inner = error.error;
    if (inner && typeof inner === 'object' && !Array.isArray(inner) && typeof inner.message === 'string') return `step ${String(error.step)}: ${inner.message}`;
    if (typeof error.message === 'string') return error.message;
  }
  return 'run failed';
}
