import { TERMINAL_RUN_STATUSES } from '#core';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query, Res, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ConversationsService } from '#conversations';
import type { JsonValue } from '#core';
import { RunControlService, RunQueryService, RunStarter, TaskStatusService } from '#engine';
import { toEventRecord } from '#events';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { pageRequest } from '../common/pagination.dto.js';
import {
  CancelRunDto,
  EventPageDto,
  EventsQueryDto,
  ListRunsQueryDto,
  RetryStepDto,
  RunDto,
  RunPageDto,
  RunStatusDto,
  SkipStepDto,
  StartRunDto,
  toEventDto,
  toRunDto,
  toStatusDto,
} from './run.dto.js';
import { RunRateLimitGuard } from './run-rate-limit.guard.js';

const actorOf = (p: Principal) => ({ type: p.kind, id: p.id }) as const;
const STEP_KEY = 'key';

@ApiTags('runs')
@Authenticated()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such run in your organization' })
@Controller('orchestrations/runs')
export class RunsController {
  constructor(
    private readonly starter: RunStarter,
    private readonly queries: RunQueryService,
    private readonly control: RunControlService,
    private readonly status: TaskStatusService,
    private readonly conversations: ConversationsService,
  ) {}

  @Post()
  @Roles('operator')
  @UseGuards(RunRateLimitGuard)
  @ApiOperation({ summary: 'Start a run of a definition (201), or return the run of a repeated idempotency key (200)' })
  @ApiCreatedResponse({ type: RunDto })
  @ApiOkResponse({ type: RunDto, description: 'Idempotency key seen before: the existing run' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Input does not match the input schema (details carry JSON paths)' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Idempotency key used for another definition, version not active, or the conversation (contextId) expired' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Run creation rate limit of the organization' })
  async start(@CurrentPrincipal() principal: Principal, @Body() body: StartRunDto, @Res({ passthrough: true }) response: Response): Promise<RunDto> {
    const { contextId, ...command } = body;
    if (contextId) await this.conversations.assertOpen(principal.organizationId, contextId);
    const { run, created } = await this.starter.start({ organizationId: principal.organizationId, ...command, contextId: contextId ?? null, actorUserId: principal.userId });
    if (contextId && created) await this.conversations.recordUserMessage(principal.organizationId, contextId, { runId: run.id, messageId: null, parts: [{ data: run.input as JsonValue, mediaType: 'application/json' }] });
    response.status(created ? HttpStatus.CREATED : HttpStatus.OK);
    return toRunDto(run);
  }

  @Get()
  @AnyRole()
  @ApiOperation({ summary: 'List runs (newest first) with filters and pagination' })
  @ApiOkResponse({ type: RunPageDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListRunsQueryDto): Promise<RunPageDto> {
    const page = await this.queries.list(
      principal.organizationId,
      { status: query.status, definition: query.definition, parentRunId: query.parentRunId, from: query.from ? new Date(query.from) : undefined, to: query.to ? new Date(query.to) : undefined },
      pageRequest(query),
    );
    return { ...page, items: page.items.map((r) => toRunDto(r)) };
  }

  @Get(':id')
  @AnyRole()
  @ApiOperation({ summary: 'A run with its steps' })
  @ApiOkResponse({ type: RunDto })
  async get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<RunDto> {
    const { run, steps } = await this.queries.get(principal.organizationId, id);
    const children = steps.some((s) => s.type === 'orchestration' || s.childrenTotal > 0) ? await this.queries.children(principal.organizationId, id) : [];
    return { ...toRunDto(run, steps), children };
  }

  @Get(':id/status')
  @AnyRole()
  @ApiOperation({
    summary: 'Progress summary: counts by state, percent, running steps, next retry (served from memory when warm), and the pending approvals of the run and its descendants',
  })
  @ApiOkResponse({ type: RunStatusDto })
  async runStatus(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<RunStatusDto> {
    const summary = await this.status.get(principal.organizationId, id);
    return toStatusDto(summary, TERMINAL_RUN_STATUSES.includes(summary.status) ? [] : await this.queries.pendingApprovalsOfTree(principal.organizationId, id));
  }

  @Get(':id/events')
  @AnyRole()
  @ApiOperation({ summary: 'Event history of the run in order (`?after=<eventId>` for the rest)' })
  @ApiOkResponse({ type: EventPageDto })
  async events(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Query() query: EventsQueryDto): Promise<EventPageDto> {
    const rows = await this.queries.events(principal.organizationId, id, query.after ?? null, query.limit ?? 500);
    return { items: rows.map((r) => toEventDto(toEventRecord(r))) };
  }

  @Post(':id/cancel')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Cancel a run: pending steps at once, running steps through their AbortSignal' })
  @ApiOkResponse({ type: RunDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The run already finished' })
  async cancel(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: CancelRunDto): Promise<RunDto> {
    await this.control.cancel(principal.organizationId, id, actorOf(principal), body.reason);
    return this.get(principal, id);
  }

  @Post(':id/steps/:key/retry')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Manually retry a failed step (optionally with an edited input); revives a failed run. Audited.' })
  @ApiOkResponse({ type: RunDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The step is not failed, or the run is completed or cancelled' })
  async retry(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param(STEP_KEY) key: string,
    @Body() body: RetryStepDto,
  ): Promise<RunDto> {
    await this.control.retryStep(principal.organizationId, id, key, actorOf(principal), body.input);
    return this.get(principal, id);
  }

  @Post(':id/steps/:key/skip')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Manually skip a step (optionally with a substitute output for its dependents). Audited.' })
  @ApiOkResponse({ type: RunDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The step already ran or is running, or the run is completed or cancelled' })
  async skip(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param(STEP_KEY) key: string,
    @Body() body: SkipStepDto,
  ): Promise<RunDto> {
    await this.control.skipStep(principal.organizationId, id, key, actorOf(principal), body.output);
    return this.get(principal, id);
  }
}
