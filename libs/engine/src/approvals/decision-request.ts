/**
 * A checkpoint decision as it travels to the orchestrator agent: an A2A task naming the run whose message carries
 * `{ approvalId, decision | timeout, modifications?, comment? }` as a data part. Every decision (REST, CLI, A2A,
 * approval timeouts) is sent through `sendDecision`, and OrchestrationRunner reads it back, so the envelope has one
 * writer and one reader.
 */
import type { AgentRunnerRegistry } from '#agents';
import { dataPart, userMessage, type TaskResponseDto } from '#a2a';
import type { JsonValue } from '#core';
import type { Decision, DecisionActor } from './approval.service.js';

export interface DecisionRequest {
  organizationId: string;
  runId: string;
  /** The run's A2A context (defaults to the run id, what REST-started runs use). */
  contextId?: string;
  /** The run's definition slug: the orchestrator agent's name in this call. */
  definition: string;
  approvalId: string;
  /** The decision; absent for an approval timeout (then the approval's onTimeout applies). */
  decision?: Decision;
  timeout?: true;
  modifications?: JsonValue;
  comment?: string | null;
  actor: DecisionActor;
  /** The A2A message id when the decision came as an A2A message (kept in the task history). */
  messageId?: string;
}

/** The decision's data part. */
export function decisionData(request: DecisionRequest): { [key: string]: JsonValue } {
  const data: { [key: string]: JsonValue } = { approvalId: request.approvalId };
  if (request.timeout) data.timeout = true;
  else if (request.decision !== undefined) data.decision = request.decision;
  if (request.modifications !== undefined) data.modifications = request.modifications;
  if (request.comment !== undefined && request.comment !== null) data.comment = request.comment;
  return data;
}

/** Sends the decision to the orchestrator agent; resolves to the run's task as it stands after the decision. */
export function sendDecision(registry: AgentRunnerRegistry, request: DecisionRequest): Promise<TaskResponseDto> {
  const contextId = request.contextId ?? request.runId;
  const message = userMessage([dataPart(decisionData(request))], request.runId, contextId);
  if (request.messageId) message.messageId = request.messageId;
  return registry.forType('orchestrator').execute(
    { taskId: request.runId, contextId, message },
    {
      organizationId: request.organizationId,
      agentSlug: request.definition,
      config: {},
      attempt: 1,
      signal: new AbortController().signal,
      onProgress: () => undefined,
      actor: request.actor,
    },
  );
}
