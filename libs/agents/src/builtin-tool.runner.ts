import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { isBuiltinAgent, type JsonValue } from '#core';
import { randomUUID } from 'node:crypto';
import { ABORTED_ERROR, AgentError } from './agent-error.js';
import { BaseAgentRunner, type AgentExecutionContext } from './base-agent-runner.js';

function field(input: JsonValue, name: string): JsonValue | undefined {
  return input !== null && typeof input === 'object' && !Array.isArray(input) ? input[name] : undefined;
}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AgentError(ABORTED_ERROR, 'aborted', false));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AgentError(ABORTED_ERROR, 'aborted', false));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The built-in tool agents of every organization: `echo` (returns its input), `sleep` (waits `input.ms`,
 * honours abort), `flaky` (fails the first `input.failTimes` attempts), `fail` (non-retryable error).
 */
export class BuiltinToolRunner extends BaseAgentRunner {
  readonly type = 'tool' as const;

  handles(slug: string): boolean {
    return isBuiltinAgent(slug);
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const input = messageData(request.message);
    const id = request.taskId ?? randomUUID();
    const done = (output: JsonValue) => completedTask(id, request.contextId ?? id, output);
    switch (context.agentSlug) {
      case 'echo':
        return done(input);
      case 'sleep': {
        const ms = Number(field(input, 'ms') ?? 0);
        await abortable(Number.isFinite(ms) ? ms : 0, context.signal);
        return done({ sleptMs: ms, echo: field(input, 'echo') ?? null });
      }
      case 'flaky': {
        const failTimes = Number(field(input, 'failTimes') ?? 1);
        if (context.attempt <= failTimes) throw new AgentError('FLAKY', `flaky failure on attempt ${context.attempt} of ${failTimes}`);
        return done({ attempt: context.attempt, echo: field(input, 'echo') ?? null });
      }
      case 'fail': {
        const message = field(input, 'message');
        throw new AgentError(String(field(input, 'code') ?? 'FAIL'), typeof message === 'string' ? message : 'the fail agent always fails', false);
      }
      default:
        throw new AgentError('UNKNOWN_AGENT', `no built-in agent ${context.agentSlug}`, false);
    }
  }
}
