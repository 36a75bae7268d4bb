import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsIn, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';
import { TaskResponseDto } from '#a2a';
import type { JsonValue } from '#core';
import { PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

const DECISIONS = ['continue', 'retry', 'skip', 'abort'] as const;
const STATUSES = ['pending', 'resolved', 'expired'] as const;

export class DecisionDto {
  @ApiProperty({ enum: DECISIONS, description: 'continue: merge modifications into the output; retry: re-run with modifications merged into the input; skip: dependents get null; abort: cancel the run' })
  @IsIn(DECISIONS)
  decision: (typeof DECISIONS)[number];

  @ApiPropertyOptional({ description: "Validated against the approval's modificationsSchema when it has one", example: { report: { summary: 'Trimmed by reviewer' } } })
  @Allow()
  modifications?: JsonValue;

  @ApiPropertyOptional({ example: 'Looks right; shortened the summary.' })
  @IsOptional()
  @IsString()
  @Length(1, 2000)
  comment?: string;
}

export class ListApprovalsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: STATUSES }) @IsOptional() @IsIn(STATUSES) status?: (typeof STATUSES)[number];
  @ApiPropertyOptional({ description: 'Definition slug' }) @IsOptional() @Matches(/^[a-z0-9][a-z0-9-]{0,99}$/) definition?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'Run id' }) @IsOptional() @IsUUID() run?: string;
}

export class ApprovalDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ example: 'kpi-tracking' }) definition: string;
  @ApiProperty({ example: 'analyze' }) stepKey: string;
  @ApiProperty({ enum: STATUSES }) status: string;
  @ApiPropertyOptional({ enum: DECISIONS, nullable: true, type: String }) decision: string | null;
  @ApiProperty({ example: 'Approve the KPI analysis?' }) prompt: string;
  @ApiProperty({ description: "The step output, or the approval's payload template rendered", example: { report: { summary: '...' } } }) payload: unknown;
  @ApiProperty({ type: [String], example: DECISIONS }) decisions: string[];
  @ApiProperty({ type: [String], example: ['approver', 'admin'] }) roles: string[];
  @ApiProperty({ type: [String] }) assignees: string[];
  @ApiProperty({ example: 1 }) quorum: number;
  @ApiProperty({ example: 'abort' }) onTimeout: string;
  @ApiPropertyOptional() modifications: unknown;
  @ApiPropertyOptional({ nullable: true, type: String }) comment: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) requestedAt: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) expiresAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) escalatedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) decidedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) decidedBy: string | null;
}

export class DecisionRecordDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: DECISIONS }) decision: string;
  @ApiProperty({ example: 'user' }) actorType: string;
  @ApiPropertyOptional({ nullable: true, type: String }) actorId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) decidedBy: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'approver@example.com' }) decidedByEmail: string | null;
  @ApiPropertyOptional() modifications: unknown;
  @ApiProperty({ description: 'What the modifications changed in what the approver saw', example: [{ op: 'replace', path: '$.report.summary', from: 'long', to: 'short' }] })
  modificationsDiff: unknown;
  @ApiProperty({ description: 'The payload the approver saw when deciding' }) payloadSeen: unknown;
  @ApiPropertyOptional({ nullable: true, type: String }) comment: string | null;
  @ApiProperty({ enum: ['human', 'timeout'] }) reason: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class ApprovalDetailDto extends ApprovalDto {
  @ApiProperty({ type: [DecisionRecordDto], description: 'Every decision, immutable, oldest first' }) history: DecisionRecordDto[];
}

export class ApprovalPageDto extends PageMetaDto {
  @ApiProperty({ type: [ApprovalDto] }) items: ApprovalDto[];
}

export class DecisionResultDto {
  @ApiProperty({ description: 'False while a quorum still waits for more continue votes' }) resolved: boolean;
  @ApiProperty({ type: ApprovalDetailDto }) approval: ApprovalDetailDto;
  @ApiProperty({ type: TaskResponseDto, description: "The run's A2A task after the decision (answered by OrchestrationRunner)" }) task: TaskResponseDto;
}
