/**
 * Orchestrations are agents too: the `orchestrator` runner of the registry. A task without an id starts a
 * run of the named definition (metadata.definition, or the stored agent's config.definition); a task that
 * names a run answers that run's current state. Resuming a paused run arrives through this same path.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { AgentError, AgentRunnerRegistry, BaseAgentRunner, type AgentExecutionContext } from '#agents';
import type { JsonValue } from '#core';
import { RunQueryService } from './runs/run-queries.service.js';
import { RunStarter } from './runs/run-starter.service.js';
import { taskFromRun } from './runs/run-task.mapper.js';

@Injectable()
export class OrchestrationRunner extends BaseAgentRunner implements OnModuleInit {
  readonly type = 'orchestrator' as const;

  constructor(
    private readonly registry: AgentRunnerRegistry,
    private readonly starter: RunStarter,
    private readonly queries: RunQueryService,
  ) {
    super();
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    if (request.taskId) {
      const { run } = await this.queries.get(context.organizationId, request.taskId);
      return taskFromRun(run);
    }
    const metadata = request.metadata ?? {};
    const definition = str(metadata.definition) ?? str(context.config.definition as JsonValue);
    if (!definition) throw new AgentError('NO_DEFINITION', 'the task names no orchestration definition (metadata.definition)', false);
    const version = typeof metadata.version === 'number' ? metadata.version : undefined;
    const { run, created } = await this.starter.start({
      organizationId: context.organizationId,
      definition,
      version,
      input: messageData(request.message),
      idempotencyKey: str(metadata.idempotencyKey) ?? null,
      priority: typeof metadata.priority === 'number' ? metadata.priority : 0,
      actorUserId: str(metadata.actorUserId) ?? null,
    });
    return taskFromRun(run, { created });
  }
}

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
