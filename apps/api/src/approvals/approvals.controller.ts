import { Body, Controller, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AgentRunnerRegistry } from '#agents';
import { ApprovalQueryService, sendDecision } from '#engine';
import { actorOf, type Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { pageRequest } from '../common/pagination.dto.js';
import { ApprovalDetailDto, ApprovalPageDto, DecisionDto, DecisionResultDto, ListApprovalsQueryDto } from './approval.dto.js';

@ApiTags('approvals')
@Authenticated()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such approval in your organization' })
@Controller('orchestrations/approvals')
export class ApprovalsController {
  constructor(
    private readonly queries: ApprovalQueryService,
    private readonly registry: AgentRunnerRegistry,
  ) {}

  @Get()
  @AnyRole()
  @ApiOperation({ summary: 'List approvals (newest first); filter by status, definition and run' })
  @ApiOkResponse({ type: ApprovalPageDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListApprovalsQueryDto): Promise<ApprovalPageDto> {
    return this.queries.list(
      principal.organizationId,
      { status: query.status, definition: query.definition, runId: query.run },
      pageRequest(query),
    );
  }

  @Get(':id')
  @AnyRole()
  @ApiOperation({ summary: 'An approval with its full decision history (who decided what, when, what they saw and changed)' })
  @ApiOkResponse({ type: ApprovalDetailDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<ApprovalDetailDto> {
    return this.queries.get(principal.organizationId, id);
  }

  /** Builds the A2A resume request and hands it to the orchestration runner: the one path that resumes runs. */
  @Post(':id/decision')
  @Roles('approver')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Decide a checkpoint: continue, retry, skip or abort (approver or admin; assignees and quorum apply)' })
  @ApiOkResponse({ type: DecisionResultDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'Decision not allowed, or modifications fail the modificationsSchema (details carry paths)',
  })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Already resolved or expired, or this user already voted' })
  async decide(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: DecisionDto,
  ): Promise<DecisionResultDto> {
    const approval = await this.queries.locate(principal.organizationId, id);
    const task = await sendDecision(this.registry, {
      organizationId: principal.organizationId,
      runId: approval.runId,
      definition: approval.definition,
      approvalId: id,
      decision: body.decision,
      modifications: body.modifications,
      comment: body.comment,
      actor: actorOf(principal),
    });
    const outcome = task.metadata?.decision as { resolved?: boolean } | undefined;
    return { resolved: outcome?.resolved ?? true, approval: await this.queries.get(principal.organizationId, id), task };
  }
}
