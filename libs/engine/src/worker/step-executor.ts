/**
 * Runs one claimed step's agent: builds the A2A task, wires cancellation (AbortSignal) and the step's
 * timeout, and turns whatever happens into a StepOutcome. It never touches the database.
 */
import { Injectable } from '@nestjs/common';
import { dataPart, taskOutput, userMessage, type TaskRequestDto } from '#a2a';
import { ABORTED_ERROR, AgentError, AgentRunnerRegistry, TIMEOUT_ERROR, type AgentUsage } from '#agents';
import type { JsonValue } from '#core';
import type { ClaimedStep } from './step-claimer.js';
import type { StepOutcome } from './step-outcome.js';

@Injectable()
export class StepExecutor {
  constructor(private readonly registry: AgentRunnerRegistry) {}

  async execute(step: ClaimedStep, signal: AbortSignal, onProgress: (progress: JsonValue) => void): Promise<StepOutcome> {
    if (step.inputError) return { kind: 'failed', error: { code: 'INPUT_TEMPLATE', message: step.inputError, retryable: false } };
    if (step.stepType === 'approval') return { kind: 'completed', output: step.input };
    if (step.agent?.status === 'disabled') return { kind: 'failed', error: { code: 'AGENT_DISABLED', message: `agent ${step.agentSlug} is disabled`, retryable: false } };
    const timeout = step.timeoutMs ? AbortSignal.timeout(step.timeoutMs) : null;
    const combined = timeout ? AbortSignal.any([signal, timeout]) : signal;
    const request: TaskRequestDto = {
      contextId: step.runId,
      message: userMessage([dataPart(step.input)], undefined, step.runId),
      metadata: { runId: step.runId, stepKey: step.stepKey, attempt: step.attempt },
    };
    try {
      const runner = this.registry.resolve(step.agentSlug, step.agent?.type);
      const response = await raceAbort(
        runner.execute(request, {
          organizationId: step.organizationId,
          agentSlug: step.agentSlug,
          runId: step.runId,
          stepKey: step.stepKey,
          config: step.agent?.config ?? {},
          attempt: step.attempt,
          signal: combined,
          onProgress,
        }),
        combined,
      );
      const state = response.status.state;
      if (state === 'TASK_STATE_COMPLETED') {
        const usage = usageOf(response.metadata?.usage);
        return { kind: 'completed', output: taskOutput(response), ...(usage ? { usage } : {}) };
      }
      const message = response.status.message?.parts.find((p) => p.text)?.text ?? `agent answered ${state}`;
      return { kind: 'failed', error: { code: state, message, retryable: state === 'TASK_STATE_FAILED' } };
    } catch (error) {
      if (timeout?.aborted) return { kind: 'failed', error: { code: TIMEOUT_ERROR, message: `step timed out after ${step.timeoutMs} ms`, retryable: true } };
      if (error instanceof AgentError)
        return {
          kind: 'failed',
          error: { code: error.code, message: error.message, retryable: error.retryable, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) },
        };
      return { kind: 'failed', error: { code: 'AGENT_ERROR', message: error instanceof Error ? error.message : String(error), retryable: true } };
    }
  }
}

/** Rejects as soon as the signal fires, even if the agent ignores it: a stuck agent must not hold the slot. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AgentError(ABORTED_ERROR, 'aborted', false));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AgentError(ABORTED_ERROR, 'aborted', false));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A runner's `metadata.usage` when it has the AgentUsage shape (numbers where numbers belong), else nothing. */
function usageOf(value: JsonValue | undefined): AgentUsage | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { inputTokens, outputTokens, totalTokens, costUsd, model, provider } = value;
  if (![inputTokens, outputTokens, totalTokens, costUsd].every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const text = (v: JsonValue | undefined) => (typeof v === 'string' ? v : null);
  return {
    inputTokens: inputTokens as number,
    outputTokens: outputTokens as number,
    totalTokens: totalTokens as number,
    costUsd: costUsd as number,
    model: text(model),
    provider: text(provider),
  };
}
