import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsDateString, IsIn, IsInt, IsNumber, IsOptional, IsPositive, IsString, IsUUID, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { RUN_STATUSES, STEP_STATUSES, type JsonValue, type RunStatus, type StepStatus } from '#core';
import type { OrchestrationRunEntity, OrchestrationStepEntity } from '#persistence';
import type { EventRecord } from '#events';
import { runView, stepView, type RunStatusSummary } from '#engine';
import { MAX_INT, PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

export class BudgetDto {
  @ApiPropertyOptional({ example: 20000, description: 'Most LLM tokens (input + output) the run may use' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  maxTokens?: number;

  @ApiPropertyOptional({ example: 0.5, description: 'Most LLM cost in USD the run may incur (per the price table)' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  maxCostUsd?: number;

  @ApiPropertyOptional({ enum: ['fail', 'approval'], default: 'fail', description: 'fail: the step fails with BUDGET_EXCEEDED; approval: the run pauses at a checkpoint to raise it' })
  @IsOptional()
  @IsIn(['fail', 'approval'])
  onExceeded?: 'fail' | 'approval';
}

export class StartRunDto {
  @ApiProperty({ example: 'kpi-tracking', description: 'Definition slug' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,99}$/)
  definition: string;

  @ApiPropertyOptional({ example: 1, description: 'Pin a version; default: the latest active one' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  version?: number;

  @ApiPropertyOptional({ example: { quarter: '2026-Q3' }, description: "Run input, validated against the definition's input schema" })
  @Allow()
  input?: JsonValue;

  @ApiPropertyOptional({ example: 'kpi-2026-Q3', description: 'Repeating a start with the same key returns the first run' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  idempotencyKey?: string;

  @ApiPropertyOptional({ example: 0, description: 'Higher runs are claimed first', minimum: -1000, maximum: 1000 })
  @IsOptional()
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority?: number;

  @ApiPropertyOptional({
    example: 'support-4711',
    description: 'Start the run in this conversation (A2A contextId; created on first use): its input joins the history, its answer too',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  contextId?: string;

  @ApiPropertyOptional({ type: BudgetDto, description: "What the run may spend on LLM calls (default: the definition's budget)" })
  @IsOptional()
  @ValidateNested()
  @Type(() => BudgetDto)
  budget?: BudgetDto;
}

export class ListRunsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: RUN_STATUSES }) @IsOptional() @IsIn(RUN_STATUSES) status?: RunStatus;
  @ApiPropertyOptional({ description: 'Definition slug' }) @IsOptional() @IsString() definition?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() parentRunId?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Created at or after' }) @IsOptional() @IsDateString() from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Created before' }) @IsOptional() @IsDateString() to?: string;
}

export class EventsQueryDto {
  @ApiPropertyOptional({ description: 'Only events after this event id', example: '1042' })
  @IsOptional()
  @Matches(/^\d{1,19}$/)
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class RetryStepDto {
  @ApiPropertyOptional({ description: 'Edited input to run the step with instead of its rendered template', example: { query: 'kpi_by_quarter' } })
  @Allow()
  input?: JsonValue;
}

export class SkipStepDto {
  @ApiPropertyOptional({ description: 'Substitute output that dependents receive (null when absent)', example: { rows: [] } })
  @Allow()
  output?: JsonValue;
}

export class CancelRunDto {
  @ApiPropertyOptional({ example: 'wrong quarter' }) @IsOptional() @IsString() @Length(1, 500) reason?: string;
}

export class StepDto {
  @ApiProperty() key: string;
  @ApiProperty({ enum: STEP_STATUSES }) status: StepStatus;
  @ApiProperty({ example: 'agent' }) type: string;
  @ApiPropertyOptional({ nullable: true, type: String }) agent: string | null;
  @ApiProperty({ type: [String] }) dependsOn: string[];
  @ApiProperty() attempt: number;
  @ApiProperty() maxAttempts: number;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) nextAttemptAt: string | null;
  @ApiPropertyOptional({ description: 'Input the last attempt ran with' }) input: unknown;
  @ApiPropertyOptional() output: unknown;
  @ApiPropertyOptional({ example: { code: 'TIMEOUT', message: 'step timed out after 5000 ms', retryable: true } }) error: unknown;
  @ApiPropertyOptional({
    nullable: true,
    description: 'Tokens and cost of the completing attempt (LLM agents)',
    example: { inputTokens: 120, outputTokens: 45, totalTokens: 165, costUsd: 0.000045, model: 'gpt-4o-mini', provider: 'openai' },
  })
  usage: unknown;
  @ApiPropertyOptional({ description: 'Sub-orchestration steps: child runs of the current attempt', example: { total: 20, started: 7, finished: 2 } })
  children?: { total: number; started: number; finished: number };
  @ApiPropertyOptional({ description: 'Rollback steps (saga compensation): the key of the step this one undoes', example: 'reserve' })
  compensates?: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) startedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) completedAt: string | null;
}

export class RunDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'kpi-tracking' }) definition: string;
  @ApiProperty({ example: 1 }) version: number;
  @ApiProperty({ enum: RUN_STATUSES }) status: RunStatus;
  @ApiProperty({ example: { quarter: '2026-Q3' } }) input: unknown;
  @ApiPropertyOptional({ description: 'Sink step outputs keyed by step, or the definition output mapping' }) output: unknown;
  @ApiPropertyOptional() error: unknown;
  @ApiProperty() priority: number;
  @ApiPropertyOptional({ nullable: true, type: String }) idempotencyKey: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) parentRunId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'The parent step that started this child run' }) parentStepId: string | null;
  @ApiProperty({ example: 0, description: 'Nesting depth: 0 for a run started over the API, parent + 1 for a child' }) depth: number;
  @ApiPropertyOptional({ nullable: true, type: BudgetDto, description: 'What the run may spend (limits raised at budget checkpoints included)' }) budget: unknown;
  @ApiProperty({ example: { inputTokens: 1200, outputTokens: 300, totalTokens: 1500, costUsd: 0.00036 }, description: 'LLM usage of the run so far' })
  usage: { inputTokens: number; outputTokens: number; totalTokens: number; costUsd: number };
  @ApiPropertyOptional({ nullable: true, enum: ['running', 'completed', 'failed'], description: 'Saga compensation of a failed or aborted run with `compensate: true`' })
  compensation: 'running' | 'completed' | 'failed' | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) startedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) completedAt: string | null;
  @ApiPropertyOptional({ type: [StepDto], description: 'Present on GET /orchestrations/runs/:id' }) steps?: StepDto[];
  @ApiPropertyOptional({ type: () => [ChildRunDto], description: 'Present on GET /orchestrations/runs/:id: the child runs of its sub-orchestration steps' })
  children?: ChildRunDto[];
}

export class ChildRunDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'kpi-tracking' }) definition: string;
  @ApiProperty({ example: 1 }) version: number;
  @ApiProperty({ enum: RUN_STATUSES }) status: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'per_quarter', description: 'The parent step that started it' }) stepKey: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: "That step's attempt" }) attempt: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Its forEach item (null: not a forEach)' }) index: number | null;
  @ApiProperty({ example: 66.7, description: 'Finished steps of the child, in percent' }) percent: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) completedAt: string | null;
}

export class TreeApprovalDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'The run it pauses: this run, or a descendant' }) runId: string;
  @ApiProperty({ example: 'analyze' }) stepKey: string;
  @ApiProperty({ example: 'Approve the KPI analysis?' }) prompt: string;
  @ApiProperty({ type: String, format: 'date-time' }) requestedAt: string;
  @ApiProperty({ example: 1, description: '0: this run; 1: a child run; 2: a grandchild; ...' }) depth: number;
}

export class RunPageDto extends PageMetaDto {
  @ApiProperty({ type: [RunDto] }) items: RunDto[];
}

export class RunStatusDto {
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ enum: RUN_STATUSES }) status: RunStatus;
  @ApiProperty() definition: string;
  @ApiProperty() version: number;
  @ApiProperty({ example: 20 }) total: number;
  @ApiProperty({ example: { completed: 12, running: 4, pending: 4 } }) counts: Record<string, number>;
  @ApiProperty({ example: 60 }) percent: number;
  @ApiProperty({ type: [String] }) runningSteps: string[];
  @ApiProperty({ type: [String] }) awaitingApproval: string[];
  @ApiProperty({
    type: [TreeApprovalDto],
    description: 'Pending approvals of this run and of its descendant runs (a child paused at a checkpoint shows here; decide it with POST /orchestrations/approvals/:id/decision)',
  })
  pendingApprovals: TreeApprovalDto[];
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) nextRetryAt: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt: string;
}

export class EventDto {
  @ApiProperty({ example: '1042', description: 'Event id (same as the SSE id)' }) id: string;
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ example: 7, description: 'Position in the run, gap-free from 1' }) seq: number;
  @ApiProperty({ example: 'step.completed' }) type: string;
  @ApiPropertyOptional({ nullable: true, type: String }) stepKey: string | null;
  @ApiProperty({ example: { attempt: 1, output: { rows: 3 } } }) payload: unknown;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class EventPageDto {
  @ApiProperty({ type: [EventDto] }) items: EventDto[];
}

/** The run resource is the engine's run view (shared with the CLI), typed for Swagger. */
export const toStepDto = (step: OrchestrationStepEntity): StepDto => stepView(step);
export const toRunDto = (run: OrchestrationRunEntity, steps?: OrchestrationStepEntity[]): RunDto => runView(run, steps);

export function toEventDto(event: EventRecord): EventDto {
  return { id: event.id, runId: event.runId, seq: event.seq, type: event.type, stepKey: event.stepKey, payload: event.payload, createdAt: event.createdAt };
}

export function toStatusDto(summary: RunStatusSummary, pendingApprovals: TreeApprovalDto[]): RunStatusDto {
  return { ...summary, counts: summary.counts as Record<string, number>, pendingApprovals };
}
