import { Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Authenticated, Public } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { A2aEndpoint, baseUrlOf } from './a2a-endpoint.service.js';
import { AgentCardQueryDto, JsonRpcRequestDto, JsonRpcResponseDto, OrganizationAgentsDto } from './a2a.dto.js';

const SLUG = 'slug';

/** Orchestrations as A2A agents (docs/a2a.md). Authentication is done by A2aEndpoint: A2A wants a WWW-Authenticate challenge. */
@ApiTags('a2a')
@Public()
@Controller('a2a')
export class A2aController {
  constructor(private readonly endpoint: A2aEndpoint) {}

  @Get('.well-known/agents')
  @ApiOperation({ summary: "The organization's A2A agents (every active definition) with their agent cards" })
  @ApiOkResponse({ type: OrganizationAgentsDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'A bearer token was sent and is not valid' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such organization' })
  async agents(@Req() request: Request, @Res() response: Response, @Query() query: AgentCardQueryDto): Promise<void> {
    const organizationId = await this.endpoint.cardOrganization(request, response, query.organization);
    if (organizationId) response.json(await this.endpoint.organizationCard(organizationId, baseUrlOf(request)));
  }

  @Get(`:${SLUG}/.well-known/agent-card.json`)
  @ApiOperation({
    summary: 'Public agent card of an active definition (A2A v1.0 AgentCard, protocol JSON form; advertises JSON-RPC 1.0 and 0.3)',
    description: "With a bearer token the caller's organization is searched, without one `?organization=` (default global).",
  })
  @ApiOkResponse({ description: 'The A2A AgentCard' })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'A bearer token was sent and is not valid' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No active definition with this slug' })
  async card(
    @Param(SLUG) slug: string,
    @Req() request: Request,
    @Res() response: Response,
    @Query() query: AgentCardQueryDto,
  ): Promise<void> {
    const organizationId = await this.endpoint.cardOrganization(request, response, query.organization);
    if (organizationId) response.json(await this.endpoint.agentCard(organizationId, slug, baseUrlOf(request)));
  }

  @Post(`:${SLUG}`)
  @Authenticated()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary:
      'A2A JSON-RPC endpoint of an orchestration (SendMessage, SendStreamingMessage, GetTask, ListTasks, CancelTask, SubscribeToTask, ...)',
    description:
      'A JSON-RPC 2.0 request; errors are JSON-RPC errors in a 200 answer (never HTTP 500). `SendStreamingMessage` and `SubscribeToTask` ' +
      '(0.3: `message/stream`, `tasks/resubscribe`) answer `text/event-stream`, one JSON-RPC response per `data:` line. ' +
      'Task id = run id. Needs a bearer token (JWT or API key): without one, 401 with `WWW-Authenticate: Bearer`.',
  })
  @ApiParam({ name: SLUG, description: 'Slug of an active definition of your organization', example: 'kpi-tracking' })
  @ApiHeader({
    name: 'A2A-Version',
    required: false,
    description: '1.0 for the v1.0 method names; absent or 0.3 for the v0.3 names and shapes',
    example: '1.0',
  })
  @ApiBody({ type: JsonRpcRequestDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: JsonRpcResponseDto, description: 'A JSON-RPC response (or an SSE stream of them)' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No active definition with this slug in your organization' })
  rpc(@Param(SLUG) slug: string, @Req() request: Request, @Res() response: Response): Promise<void> {
    return this.endpoint.handle(slug, request, response);
  }
}
