import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { EVENT_TYPES, type EventType } from '#events';

export class StreamQueryDto {
  @ApiPropertyOptional({
    description: 'Only these event types: comma-separated names, or `<category>.*` (run, step, checkpoint, agent, group). Default: all.',
    example: 'step.completed,run.*',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  types?: string;

  @ApiPropertyOptional({
    description: 'Resume right after this event id, for clients that cannot send the `Last-Event-ID` header (the header wins).',
    example: '1042',
  })
  @IsOptional()
  @Matches(/^\d{1,19}$/, { message: 'lastEventId must be an event id (digits)' })
  lastEventId?: string;
}

/** The `data:` of each SSE message: the event exactly as GET /orchestrations/runs/:id/events returns it. */
export class StreamEventDto {
  @ApiProperty({ example: '1042', description: 'Event id; also the SSE `id:` field, to send back as Last-Event-ID' }) id: string;
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ example: 7, description: 'Position in the run, gap-free from 1' }) seq: number;
  @ApiProperty({ enum: EVENT_TYPES, example: 'step.completed', description: 'Also the SSE `event:` field' }) type: EventType;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'analyze' }) stepKey: string | null;
  @ApiProperty({ example: { attempt: 1, output: { rows: 3 } }, description: 'Depends on the type: see the operation description' })
  payload: unknown;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

/** Payload of each event type (exhaustive: a new event type must be documented here to compile). */
export const EVENT_PAYLOADS: Record<EventType, string> = {
  'run.created': '`{ definition, version, input, parentRunId }`',
  'run.started': '`{}`',
  'run.resumed': '`{}`: a decision or a manual retry revived the run',
  'run.awaiting_approval': '`{}`: a checkpoint paused the run',
  'run.completed': '`{ output }`; terminal: a run stream ends after it',
  'run.failed': '`{ error: { code, message } }`; terminal',
  'run.cancelled': '`{ by?, reason }`; terminal',
  'run.compensating':
    '`{ status, steps }`: the run failed or was aborted with `compensate: true`; its completed reversible steps are undone, latest first, before it ends with `status`',
  'step.ready': '`{ attempt?, reason? }`',
  'step.started':
    "`{ attempt, worker, agent?, routedBy?, cache? }`: agent and routedBy when the step was routed (capability, or a fallback while its agent's breaker is open); cache `hit` or `miss` for a step with `cache:`",
  'step.progress': '`{ attempt, progress }`',
  'step.completed':
    '`{ attempt, output, approved?, usage?, cached? }`: cached true when the output was reused from the step cache (no agent call)',
  'step.failed': '`{ attempt, error: { code, message, retryable } }`',
  'step.retrying': '`{ attempt, nextAttempt?, delayMs, error?, reason? }`',
  'step.skipped': '`{ output, by, approvalId? }`',
  'step.cancelled': '`{ reason }`',
  'step.waiting': '`{ attempt, orchestration, version, children, concurrency }`: a sub-orchestration step waits for its child runs',
  'step.child_started': '`{ attempt, childRunId, index }`: a child run of this step was created (index: its forEach item)',
  'step.child_finished': '`{ attempt, childRunId, index, status }`: a child run of this step ended',
  'step.compensating': '`{ rollbackStep, agent }`: the rollback of this completed step starts (saga compensation)',
  'step.compensated': '`{ rollbackStep, output?, error? }`: its rollback completed (or failed, with error)',
  'checkpoint.requested':
    '`{ approvalId, prompt, payload, decisions, quorum, expiresAt, usage? }`: usage when an LLM attempt produced the output that awaits the decision',
  'checkpoint.resolved': '`{ approvalId, decision, by, reason: human | timeout, modifications }`',
  'checkpoint.escalated': '`{ approvalId, prompt, assignees }`',
  'agent.breaker_opened': "`{ agent, from, to }`: the agent's circuit breaker opened; logged on the run whose step tripped it",
  'agent.breaker_half_opened': '`{ agent, from, to }`: the cool-down passed and a trial call was made (by this run\'s step)',
  'agent.breaker_closed': '`{ agent, from, to }`: the trial call of this run\'s step succeeded',
  'group.turn':
    '`{ attempt, turn, speaker, agent, text, output, selectedBy, fallbackReason? }`: a participant of a group step spoke (one event per finished turn; selectedBy: round-robin, priority, llm, or fallback when the selector failed)',
};

export const SSE_FORMAT_DOC = [
  'A `text/event-stream`. Each message is one event of the log:',
  '```',
  'id: 1042',
  'event: step.completed',
  'data: {"id":"1042","runId":"…","seq":7,"type":"step.completed","stepKey":"analyze","payload":{…},"createdAt":"…"}',
  '```',
  'Reconnect with the `Last-Event-ID` header (EventSource does it by itself) or `?lastEventId=`: everything after that event is',
  'replayed from the log, then the stream goes on live, with no gap and no duplicate. A `: ping` comment comes every 15 s.',
  'A client that falls too far behind is disconnected and simply resumes with Last-Event-ID.',
  '',
  '| event | payload |',
  '| --- | --- |',
  ...EVENT_TYPES.map((type) => `| \`${type}\` | ${EVENT_PAYLOADS[type]} |`),
].join('\n');
