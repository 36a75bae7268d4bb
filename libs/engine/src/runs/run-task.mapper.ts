/** A run seen as an A2A task: state from the run status, the output as an artifact, the error as the status message. */
import { agentMessage, dataPart, taskStateOfRun, type TaskResponseDto } from '#a2a';
import type { JsonValue } from '#core';
import type { OrchestrationRunEntity } from '#persistence';

export function taskFromRun(run: OrchestrationRunEntity, extra: Record<string, JsonValue> = {}): TaskResponseDto {
  const state = taskStateOfRun(run.status);
  const error = run.error as JsonValue | null;
  const message =
    run.status === 'failed' && error
      ? agentMessage([{ text: describeError(error) }, dataPart(error)], run.id, run.id)
      : undefined;
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
