import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { AgentError, BaseAgentRunner, type AgentExecutionContext } from '#agents';
import type { JsonObject } from '#core';

/**
 * A deterministic runner for agent type `function`, for the agent suites: `config.mode: fail` makes every call fail
 * (retryable MODE_FAIL) unless the test has healed the agent; `config.sleepMs` holds each call; every call is counted.
 */
export class ModeRunner extends BaseAgentRunner {
  readonly type = 'function' as const;
  override readonly configSchema: JsonObject = {
    type: 'object',
    required: ['mode'],
    properties: { mode: { enum: ['ok', 'fail'] }, sleepMs: { type: 'integer', minimum: 0 }, maxConcurrency: { type: 'integer' } },
  };
  readonly calls = new Map<string, number>();
  readonly healed = new Set<string>();
  running = new Map<string, number>();
  maxRunning = new Map<string, number>();

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const slug = context.agentSlug;
    this.calls.set(slug, (this.calls.get(slug) ?? 0) + 1);
    this.running.set(slug, (this.running.get(slug) ?? 0) + 1);
    this.maxRunning.set(slug, Math.max(this.maxRunning.get(slug) ?? 0, this.running.get(slug) ?? 0));
    try {
      const sleepMs = Number(context.config.sleepMs ?? 0);
      if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
      if (context.config.mode === 'fail' && !this.healed.has(slug)) throw new AgentError('MODE_FAIL', `${slug} fails by configuration`);
      return completedTask(request.taskId ?? 't', request.contextId ?? 'c', { by: slug, input: messageData(request.message) });
    } finally {
      this.running.set(slug, (this.running.get(slug) ?? 1) - 1);
    }
  }
}
