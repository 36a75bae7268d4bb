/**
 * A2A v1.0 task DTOs in their JSON wire form (as @a2a-js/sdk 1.3 serialises them): a part is one of
 * `text`, `data`, `url` or `raw` (base64) with optional mediaType/filename; roles are ROLE_USER / ROLE_AGENT.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsIn, IsObject, IsOptional, IsString, IsUUID, Length, ValidateNested } from 'class-validator';
import { randomUUID } from 'node:crypto';
import type { JsonValue } from '#core';
import type { TaskStateName } from './task-state.js';

export class PartDto {
  @ApiPropertyOptional({ example: 'Summarise Q3' }) @IsOptional() @IsString() text?: string;
  @ApiPropertyOptional({ description: 'Structured data (any JSON)', example: { quarter: '2026-Q3' } }) @IsOptional() data?: JsonValue;
  @ApiPropertyOptional({ example: 'https://example.com/report.pdf' }) @IsOptional() @IsString() url?: string;
  @ApiPropertyOptional({ description: 'File bytes, base64' }) @IsOptional() @IsString() raw?: string;
  @ApiPropertyOptional({ example: 'application/pdf' }) @IsOptional() @IsString() mediaType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() filename?: string;
  @ApiPropertyOptional() @IsOptional() @IsObject() metadata?: Record<string, JsonValue>;
}

export class MessageDto {
  @ApiProperty({ example: '5b0c1f0e-8a8e-4a8b-9d4e-1f2a3b4c5d6e' }) @IsString() @Length(1, 200) messageId: string;
  @ApiPropertyOptional() @IsOptional() @IsString() contextId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() taskId?: string;
  @ApiProperty({ enum: ['ROLE_USER', 'ROLE_AGENT'] }) @IsIn(['ROLE_USER', 'ROLE_AGENT']) role: 'ROLE_USER' | 'ROLE_AGENT';
  @ApiProperty({ type: [PartDto] }) @IsArray() @ValidateNested({ each: true }) @Type(() => PartDto) parts: PartDto[];
  @ApiPropertyOptional() @IsOptional() @IsObject() metadata?: Record<string, JsonValue>;
}

/** What an agent is asked to do: a message, optionally addressed to an existing task (resume, follow-up). */
export class TaskRequestDto {
  @ApiPropertyOptional({ description: 'Existing task (for an orchestration: the run id) this message continues' })
  @IsOptional()
  @IsUUID()
  taskId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() contextId?: string;
  @ApiProperty({ type: MessageDto }) @ValidateNested() @Type(() => MessageDto) message: MessageDto;
  @ApiPropertyOptional({ description: 'Caller metadata; for orchestrations: definition, version, idempotencyKey, priority' })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, JsonValue>;
}

export class TaskStatusDto {
  @ApiProperty({ example: 'TASK_STATE_WORKING' }) state: TaskStateName;
  @ApiPropertyOptional({ type: MessageDto }) message?: MessageDto;
  @ApiProperty({ example: '2026-11-22T08:00:00.000Z' }) timestamp: string;
}

export class ArtifactDto {
  @ApiProperty() artifactId: string;
  @ApiPropertyOptional() name?: string;
  @ApiProperty({ type: [PartDto] }) parts: PartDto[];
  @ApiPropertyOptional() metadata?: Record<string, JsonValue>;
}

/** An agent's answer: the task with its status and artifacts (A2A `Task`). */
export class TaskResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() contextId: string;
  @ApiProperty({ type: TaskStatusDto }) status: TaskStatusDto;
  @ApiProperty({ type: [ArtifactDto] }) artifacts: ArtifactDto[];
  @ApiPropertyOptional({ type: [MessageDto] }) history?: MessageDto[];
  @ApiPropertyOptional() metadata?: Record<string, JsonValue>;
}

export function dataPart(data: JsonValue): PartDto {
  return { data, mediaType: 'application/json' };
}

export function userMessage(parts: PartDto[], taskId?: string, contextId?: string): MessageDto {
  return { messageId: randomUUID(), role: 'ROLE_USER', parts, ...(taskId ? { taskId } : {}), ...(contextId ? { contextId } : {}) };
}

export function agentMessage(parts: PartDto[], taskId?: string, contextId?: string): MessageDto {
  return { messageId: randomUUID(), role: 'ROLE_AGENT', parts, ...(taskId ? { taskId } : {}), ...(contextId ? { contextId } : {}) };
}

/** The first `data` part of a message, else the text of its text parts, else null. */
export function messageData(message: MessageDto | undefined): JsonValue {
  if (!message) return null;
  const data = message.parts.find((p) => p.data !== undefined);
  if (data) return data.data ?? null;
  const text = message.parts.filter((p) => p.text !== undefined).map((p) => p.text);
  return text.length > 0 ? text.join('\n') : null;
}

/** Keys under which an output usually holds its text (an LLM's `text`, an API's `answer`, ...), in order. */
const TEXT_KEYS = ['text', 'answer', 'message', 'summary', 'report'];

/** A text summary of an output, when it holds one: the output if it is a string, else its first string under a usual key. */
export function outputText(output: JsonValue): string | null {
  if (typeof output === 'string') return output;
  if (output && typeof output === 'object' && !Array.isArray(output))
    for (const key of TEXT_KEYS) if (typeof output[key] === 'string') return output[key];
  return null;
}

/** The output carried by a task response: the first data part of the first artifact, else its text. */
export function taskOutput(response: TaskResponseDto): JsonValue {
  const artifact = response.artifacts[0];
  if (!artifact) return null;
  return messageData({ messageId: '', role: 'ROLE_AGENT', parts: artifact.parts });
}

export function completedTask(id: string, contextId: string, output: JsonValue): TaskResponseDto {
  return {
    id,
    contextId,
    status: { state: 'TASK_STATE_COMPLETED', timestamp: new Date().toISOString() },
    artifacts: [{ artifactId: `${id}:output`, name: 'output', parts: [dataPart(output)] }],
  };
}
