/**
 * Orchestrations are agents too: the `orchestrator` runner of the registry.
 * - A task without an id starts a run of the named definition (metadata.definition, or the stored agent's
 *   config.definition).
 * - A task naming a run answers that run's current state; a paused run answers TASK_STATE_INPUT_REQUIRED with
 *   its pending approvals as a data part.
 * - A task naming a run and carrying `{ decision, modifications?, comment?, approvalId? }` resumes it: this is
 *   the one path every decision takes (REST, CLI, approval timeouts), so no handler mutates run state itself.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { AgentError, AgentRunnerRegistry, BaseAgentRunner, type AgentExecutionContext } from '#agents';
import { DomainError, DomainErrorCode, type JsonValue } from '#core';
import { ApprovalQueryService } from './approvals/approval-queries.service.js';
import { ApprovalService, type DecideCommand, type Decision } from './approvals/approval.service.js';
import { RunQueryService } from './runs/run-queries.service.js';
import { RunStarter } from './runs/run-starter.service.js';
import { taskFromRun } from './runs/run-task.mapper.js';

type JsonObject = { [key: string]: JsonValue };
const isObject = (v: JsonValue): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

@Injectable()
export class OrchestrationRunner extends BaseAgentRunner implements OnModuleInit {
  readonly type = 'orchestrator' as const;

  constructor(
    private readonly registry: AgentRunnerRegistry,
    private readonly starter: RunStarter,
    private readonly queries: RunQueryService,
    private readonly approvals: ApprovalService,
    private readonly approvalQueries: ApprovalQueryService,
  ) {
    super();
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    if (request.taskId) {
      const data = messageData(request.message);
      let decided: JsonObject | undefined;
      if (isObject(data) && ('decision' in data || data.timeout === true)) decided = { ...(await this.decide(request.taskId, data, context)) };
      return this.task(context.organizationId, request.taskId, decided ? { decision: decided } : {});
    }
    const metadata = request.metadata ?? {};
    const definition = str(metadata.definition) ?? str(context.config.definition as JsonValue);
    if (!definition) throw new AgentError('NO_DEFINITION', 'the task names no orchestration definition (metadata.definition)', false);
    const { run, created } = await this.starter.start({
      organizationId: context.organizationId,
      definition,
      version: typeof metadata.version === 'number' ? metadata.version : undefined,
      input: messageData(request.message),
      idempotencyKey: str(metadata.idempotencyKey) ?? null,
      priority: typeof metadata.priority === 'number' ? metadata.priority : 0,
      actorUserId: context.actor?.userId ?? null,
    });
    return taskFromRun(run, { created });
  }

  private async decide(runId: string, data: JsonObject, context: AgentExecutionContext) {
    const actor = context.actor;
    if (!actor) throw new DomainError(DomainErrorCode.Forbidden, 'Deciding an approval needs an authenticated actor');
    const timeout = data.timeout === true;
    if (timeout && actor.type !== 'system') throw new DomainError(DomainErrorCode.Forbidden, 'Only the system applies approval timeouts');
    const command: DecideCommand = {
      organizationId: context.organizationId,
      runId,
      approvalId: str(data.approvalId),
      decision: timeout ? undefined : (str(data.decision) as Decision | undefined),
      modifications: data.modifications,
      comment: str(data.comment) ?? null,
      actor,
      reason: timeout ? 'timeout' : 'human',
    };
    return this.approvals.decide(command);
  }

  private async task(organizationId: string, runId: string, extra: Record<string, JsonValue>): Promise<TaskResponseDto> {
    const { run } = await this.queries.get(organizationId, runId);
    const pending = run.status === 'awaiting_approval' ? await this.approvalQueries.pendingOfRun(organizationId, runId) : [];
    return taskFromRun(run, extra, pending);
  }
}

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
