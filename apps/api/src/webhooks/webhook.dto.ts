import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { EVENT_TYPES } from '#events';
import { DELIVERY_STATUSES, type DeliveryStatus, type WebhookDelivery, type WebhookSubscription } from '#webhooks';
import { PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

export class CreateWebhookDto {
  @ApiProperty({
    example: 'https://hooks.example.com/baton',
    description:
      'http or https; no credentials in the URL (verify our signature instead). Must reach a public address: loopback, private, link-local (cloud metadata) and other non-public addresses are refused (400) unless BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS is on, and every delivery checks the address it connects to.',
  })
  @IsString()
  @Length(1, 2048)
  url: string;

  @ApiPropertyOptional({
    enum: EVENT_TYPES,
    isArray: true,
    example: ['run.completed', 'run.failed', 'checkpoint.requested'],
    description: 'Empty or absent: every event type',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(EVENT_TYPES.length)
  @IsIn(EVENT_TYPES, { each: true })
  eventTypes?: string[];

  @ApiPropertyOptional({ example: 'Ops notifications' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'https://hooks.example.com/baton' }) url: string;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ type: [String], example: ['run.completed'], description: 'Empty: every event type' }) eventTypes: string[];
  @ApiProperty() active: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) createdBy: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class CreatedWebhookDto extends WebhookDto {
  @ApiProperty({
    example: 'whsec_3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    description: 'Signing secret. Shown only in this answer: store it now (it cannot be read again). See docs/webhooks.md.',
  })
  secret: string;
}

export class WebhookPageDto extends PageMetaDto {
  @ApiProperty({ type: [WebhookDto] }) items: WebhookDto[];
}

export class DeliveriesQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES }) @IsOptional() @IsIn(DELIVERY_STATUSES) status?: DeliveryStatus;
  @ApiPropertyOptional({ example: '1042', description: 'Only the delivery of this event' })
  @IsOptional()
  @Matches(/^\d{1,18}$/)
  eventId?: string;
}

export class DeliveryAttemptDto {
  @ApiProperty({ example: 1 }) attempt: number;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 503 }) statusCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'receiver answered 503' }) error: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'First 2 KB of the response body' }) responseBody: string | null;
  @ApiProperty({ example: 38 }) durationMs: number;
  @ApiProperty({ type: String, format: 'date-time' }) at: string;
}

export class DeliveryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) webhookId: string;
  @ApiProperty({ example: '1042', description: 'The event id (X-Orchestration-Event-Id): the same for every attempt' }) eventId: string;
  @ApiProperty({ example: 'run.completed' }) eventType: string;
  @ApiProperty({
    enum: DELIVERY_STATUSES,
    description: 'pending (waiting for its next attempt), delivering, delivered, dead (retries exhausted)',
  })
  status: DeliveryStatus;
  @ApiProperty({ example: 2, description: 'Attempts made so far (including before a redelivery)' }) attempts: number;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) nextAttemptAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) lastStatusCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) lastError: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'First 2 KB of the last response body' }) lastResponse: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) deliveredAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) deadAt: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: [DeliveryAttemptDto], description: 'Every attempt with the answer it got, oldest first' })
  attemptLog: DeliveryAttemptDto[];
}

export class DeliveryPageDto extends PageMetaDto {
  @ApiProperty({ type: [DeliveryDto] }) items: DeliveryDto[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toWebhookDto(s: WebhookSubscription): WebhookDto {
  return {
    id: s.id,
    url: s.url,
    description: s.description,
    eventTypes: s.eventTypes,
    active: s.active,
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
  };
}

export function toDeliveryDto(d: WebhookDelivery): DeliveryDto {
  return {
    id: d.id,
    webhookId: d.subscriptionId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    lastResponse: d.lastResponse,
    deliveredAt: iso(d.deliveredAt),
    deadAt: iso(d.deadAt),
    createdAt: d.createdAt.toISOString(),
    attemptLog: d.attemptLog.map((a) => ({ ...a, at: a.at.toISOString() })),
  };
}
