import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsDefined, IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import {
  CONVERSATION_STATES,
  MESSAGE_ROLES,
  type AgentState,
  type Conversation,
  type ConversationState,
  type TaskMessage,
} from '#conversations';
import type { JsonValue } from '#core';
import { MAX_INT, PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

export class ListConversationsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: CONVERSATION_STATES }) @IsOptional() @IsIn(CONVERSATION_STATES) state?: ConversationState;
}

export const DEFAULT_HISTORY_LIMIT = 100;

export class HistoryQueryDto {
  @ApiPropertyOptional({
    description: 'Only messages with a seq greater than this (the `nextAfter` of the previous page)',
    minimum: 0,
    default: 0,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_INT)
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: DEFAULT_HISTORY_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class ConversationDto {
  @ApiProperty({ example: 'support-4711', description: 'The A2A contextId' }) contextId: string;
  @ApiProperty({ enum: CONVERSATION_STATES }) state: ConversationState;
  @ApiProperty({ example: 12, description: 'Messages in the history (seqs 1..messageCount)' }) messageCount: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time' }) lastActivityAt: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'When it last turned idle' }) idleAt:
    string | null;
  @ApiProperty({ type: String, format: 'date-time', description: 'When it expires without further activity' }) expiresAt: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) expiredAt: string | null;
}

export class ConversationPageDto extends PageMetaDto {
  @ApiProperty({ type: [ConversationDto] }) items: ConversationDto[];
}

export class TaskMessageDto {
  @ApiProperty({ example: 3, description: 'Position in the context history, gapless from 1' }) seq: number;
  @ApiProperty({ enum: MESSAGE_ROLES }) role: string;
  @ApiProperty({
    description: 'A2A v1.0 parts (`{ "text": ... }`, `{ "data": ... }`)',
    example: [{ text: 'Q3 please' }],
    type: 'array',
    items: { type: 'object' },
  })
  parts: JsonValue[];
  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, description: 'The task (run) the message belongs to' }) taskId:
    string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) messageId: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class HistoryPageDto {
  @ApiProperty({ type: [TaskMessageDto] }) items: TaskMessageDto[];
  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    description: 'Pass as `after` for the next page; null when this page is the end (for now)',
  })
  nextAfter: number | null;
}

export class ConversationDetailDto extends ConversationDto {
  @ApiProperty({ type: HistoryPageDto }) history: HistoryPageDto;
}

export class AgentStateDto {
  @ApiProperty() contextId: string;
  @ApiProperty({ example: 'researcher' }) agent: string;
  @ApiProperty({ description: 'The JSON document (null: never written)', example: { notes: ['asked for Q3'] }, nullable: true })
  state: JsonValue;
  @ApiProperty({ example: 2, description: 'Optimistic-locking version (0: never written); also the ETag' }) version: number;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) updatedAt: string | null;
}

export class PutAgentStateDto {
  @ApiProperty({ description: 'The new JSON document (replaces the old one)', example: { notes: ['asked for Q3', 'prefers tables'] } })
  @IsDefined()
  @Allow()
  state: JsonValue;

  @ApiPropertyOptional({ example: 1, description: 'The version this write is based on (0 to create); or send `If-Match: "<version>"`' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_INT)
  version?: number;
}

export function toConversationDto(c: Conversation): ConversationDto {
  return {
    contextId: c.contextId,
    state: c.state,
    messageCount: c.messageCount,
    createdAt: c.createdAt.toISOString(),
    lastActivityAt: c.lastActivityAt.toISOString(),
    idleAt: c.idleAt?.toISOString() ?? null,
    expiresAt: c.expiresAt.toISOString(),
    expiredAt: c.expiredAt?.toISOString() ?? null,
  };
}

export function toTaskMessageDto(m: TaskMessage): TaskMessageDto {
  return { seq: m.seq, role: m.role, parts: m.parts, taskId: m.taskId, messageId: m.messageId, createdAt: m.createdAt.toISOString() };
}

export function toAgentStateDto(contextId: string, s: AgentState): AgentStateDto {
  return { contextId, agent: s.agentSlug, state: s.state, version: s.version, updatedAt: s.updatedAt?.toISOString() ?? null };
}
