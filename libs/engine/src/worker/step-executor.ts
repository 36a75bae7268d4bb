/**
 * Runs one claimed step's agent: builds the A2A task, wires cancellation (AbortSignal) and the step's
 * timeout, and turns whatever happens into a StepOutcome. It never touches the database.
 * Each attempt is a `step {key}` span in its run's trace (see RunTracing), with the agent call under it as an
 * `invoke_agent {agent}` span, or `execute_tool {agent}` for tool agents (GenAI semantic conventions).
 */
import { Injectable, Optional } from '@nestjs/common';
import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { dataPart, taskOutput, userMessage, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { ABORTED_ERROR, AgentBreakers, AgentError, AgentRunnerRegistry, TIMEOUT_ERROR, type AgentUsage, type HistoryMessage } from '#agents';
import type { JsonValue } from '#core';
import { executeToolSpan, invokeAgentSpan, RequestContext } from '#observability';
import { RunTracing } from '../observe/run-tracing.js';
import type { AgentInfo } from './agent-directory.js';
import { runGroup } from './group-runner.js';
import type { ClaimedStep } from './step-claimer.js';
import { inputResumeOf, type StepOutcome, type TurnRecorder } from './step-outcome.js';

@Injectable()
export class StepExecutor {
  constructor(
    private readonly registry: AgentRunnerRegistry,
    private readonly breakers: AgentBreakers,
    @Optional() private readonly tracing?: RunTracing,
  ) {}

  /** One attempt, in its span and with the run, step and attempt on every log line written meanwhile. */
  execute(step: ClaimedStep, signal: AbortSignal, onProgress: (progress: JsonValue) => void, recordTurn?: TurnRecorder): Promise<StepOutcome> {
    const parent = this.tracing?.attemptContext(step.runId, step.stepKey, step.attempt) ?? context.active();
    const attributes = {
      'baton.run_id': step.runId,
      'baton.step_key': step.stepKey,
      'baton.attempt': step.attempt,
      'baton.organization_id': step.organizationId,
      'baton.agent': step.agentSlug,
    };
    return RequestContext.with({ organizationId: step.organizationId, runId: step.runId, stepKey: step.stepKey, attempt: step.attempt }, () =>
      trace.getTracer('baton').startActiveSpan(`step ${step.stepKey}`, { attributes }, parent, async (span) => {
        try {
          const outcome = await this.executeAttempt(step, signal, onProgress, recordTurn);
          recordOutcome(span, outcome);
          return outcome;
        } finally {
          span.end();
        }
      }),
    );
  }

  private async executeAttempt(
    step: ClaimedStep,
    signal: AbortSignal,
    onProgress: (progress: JsonValue) => void,
    recordTurn: TurnRecorder | undefined,
  ): Promise<StepOutcome> {
    if (step.immediate) return step.immediate;
    if (step.inputError) return { kind: 'failed', error: { code: 'INPUT_TEMPLATE', message: step.inputError, retryable: false } };
    if (step.stepType === 'approval') return { kind: 'completed', output: step.input };
    if (step.group) {
      const record: TurnRecorder = recordTurn ?? (() => Promise.resolve(true));
      return runGroup({ step, start: step.group, signal, onProgress, recordTurn: record, invoke: (call, s) => this.invoke(call, s, onProgress) });
    }
    const call: AgentCall = { step, slug: step.agentSlug, agent: step.agent, input: step.input, timeoutMs: step.timeoutMs, history: step.history };
    return this.invoke(call, signal, onProgress);
  }

  /**
   * Calls one agent (a step's, a group participant, a group's selector) through its circuit breaker (stored agents
   * only: built-ins have none). While the breaker is open the agent is not called: the call fails with the retryable
   * CIRCUIT_OPEN. A breaker change the call caused rides on the outcome, for the result applier to publish.
   */
  async invoke(call: AgentCall, signal: AbortSignal, onProgress: (progress: JsonValue) => void): Promise<StepOutcome> {
    const { agent, slug, step } = call;
    if (!agent || agent.status === 'disabled' || this.registry.builtins.handles(slug)) return this.call(call, signal, onProgress);
    const { result, change } = await this.breakers.run(
      step.organizationId,
      slug,
      { state: agent.breakerState, changedAt: agent.breakerChangedAt },
      () => this.call(call, signal, onProgress),
      (outcome) => outcome.kind === 'failed' && outcome.error.retryable && outcome.error.code !== ABORTED_ERROR && !signal.aborted,
    );
    if (!result)
      return {
        kind: 'failed',
        error: { code: 'CIRCUIT_OPEN', message: `the circuit breaker of agent ${slug} is open: it was not called`, retryable: true },
      };
    return change && (result.kind === 'completed' || result.kind === 'failed') ? { ...result, breaker: change } : result;
  }

  private async call(call: AgentCall, signal: AbortSignal, onProgress: (progress: JsonValue) => void): Promise<StepOutcome> {
    const { step, slug, agent } = call;
    if (agent?.status === 'disabled') return { kind: 'failed', error: { code: 'AGENT_DISABLED', message: `agent ${slug} is disabled`, retryable: false } };
    const timeout = call.timeoutMs ? AbortSignal.timeout(call.timeoutMs) : null;
    const combined = timeout ? AbortSignal.any([signal, timeout]) : signal;
    // An answered input-required checkpoint: the agent's paused task gets the answer (see InputResume).
    const resume = inputResumeOf(call.input);
    const request: TaskRequestDto = {
      contextId: step.runId,
      message: userMessage([dataPart(resume ? resume.reply : call.input)], undefined, step.runId),
      metadata: {
        runId: step.runId,
        stepKey: step.stepKey,
        attempt: step.attempt,
        ...(resume ? { remoteTask: resume.remoteTask } : {}),
        ...(call.metadata ?? {}),
      },
    };
    try {
      const runner = this.registry.resolve(slug, agent?.type);
      const invokeCall = (fn: () => Promise<TaskResponseDto>) => {
        const attributes = { 'baton.run_id': step.runId, 'baton.step_key': step.stepKey, 'baton.attempt': step.attempt };
        return runner.type === 'tool'
          ? executeToolSpan({ name: slug, type: 'function', attributes }, failOnTaskState(fn))
          : invokeAgentSpan({ name: slug, attributes }, failOnTaskState(fn));
      };
      const response = await raceAbort(
        invokeCall(() =>
          runner.execute(request, {
            organizationId: step.organizationId,
            agentSlug: slug,
            runId: step.runId,
            stepKey: step.stepKey,
            config: agent?.config ?? {},
            attempt: step.attempt,
            signal: combined,
            onProgress,
            ...(call.history ? { history: call.history } : {}),
          }),
        ),
        combined,
      );
      const state = response.status.state;
      if (state === 'TASK_STATE_COMPLETED') {
        const usage = usageOf(response.metadata?.usage);
        return { kind: 'completed', output: taskOutput(response), ...(usage ? { usage } : {}) };
      }
      const message = response.status.message?.parts.find((p) => p.text)?.text ?? `agent answered ${state}`;
      if (state === 'TASK_STATE_INPUT_REQUIRED') {
        const asked = taskOutput(response) as { data?: JsonValue } | null;
        const detail = asked && typeof asked === 'object' && !Array.isArray(asked) ? (asked.data ?? null) : null;
        return {
          kind: 'input_required',
          request: { inputRequired: true, question: message, remoteTask: response.metadata?.remoteTask ?? { taskId: response.id, contextId: response.contextId }, data: detail },
        };
      }
      return { kind: 'failed', error: { code: state, message, retryable: state === 'TASK_STATE_FAILED' } };
    } catch (error) {
      if (timeout?.aborted) return { kind: 'failed', error: { code: TIMEOUT_ERROR, message: `step timed out after ${call.timeoutMs} ms`, retryable: true } };
      if (error instanceof AgentError)
        return {
          kind: 'failed',
          error: { code: error.code, message: error.message, retryable: error.retryable, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) },
        };
      return { kind: 'failed', error: { code: 'AGENT_ERROR', message: error instanceof Error ? error.message : String(error), retryable: true } };
    }
  }
}

/** One agent call: whose, with what input, bounded how, and the conversation it belongs to. */
export interface AgentCall {
  step: ClaimedStep;
  slug: string;
  agent: AgentInfo | null;
  input: JsonValue;
  timeoutMs: number | null;
  history?: HistoryMessage[];
  /** Added to the task request's metadata (a group turn: its number and speaker). */
  metadata?: Record<string, JsonValue>;
}

/** The agent span of a call that answered a failed task state says so (the call itself did not throw). */
function failOnTaskState(fn: () => Promise<TaskResponseDto>): (span: Span) => Promise<TaskResponseDto> {
  return async (span) => {
    const response = await fn();
    const state = response.status.state;
    if (state !== 'TASK_STATE_COMPLETED') {
      span.setAttribute('error.type', state);
      span.setStatus({ code: SpanStatusCode.ERROR, message: `agent answered ${state}` });
    }
    return response;
  };
}

/** The attempt span's outcome: `baton.outcome`, and `error.type` with an error status for a failed attempt. */
function recordOutcome(span: Span, outcome: StepOutcome): void {
  span.setAttribute('baton.outcome', outcome.kind);
  if (outcome.kind === 'completed' && outcome.usage) {
    span.setAttribute('gen_ai.usage.input_tokens', outcome.usage.inputTokens);
    span.setAttribute('gen_ai.usage.output_tokens', outcome.usage.outputTokens);
  }
  if (outcome.kind === 'failed') {
    span.setAttribute('error.type', outcome.error.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
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
