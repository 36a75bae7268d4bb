import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AgentRegistryService, type AgentActor } from '#agents';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { AgentDetailDto, AgentDto, AgentInputDto, AgentListDto, AgentsQueryDto, HeartbeatDto } from './agent.dto.js';

const actorOf = (p: Principal): AgentActor => ({ type: p.kind, id: p.id });
const INVALID = 'Invalid agent: every problem in `details` with its JSON path (shape, the type\'s config schema, literal secrets)';

@ApiTags('agents')
@Authenticated()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such agent in your organization' })
@Controller('agents')
export class AgentsController {
  constructor(private readonly registry: AgentRegistryService) {}

  @Get()
  @AnyRole()
  @ApiOperation({ summary: 'List agents (stored ones and the built-ins echo, sleep, flaky, fail); filter by capability and type' })
  @ApiOkResponse({ type: AgentListDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: AgentsQueryDto): Promise<AgentListDto> {
    return { items: await this.registry.list(principal.organizationId, query) };
  }

  @Post()
  @Roles()
  @ApiOperation({ summary: 'Register an agent (admin); its config is validated against its type\'s schema' })
  @ApiBody({ type: AgentInputDto })
  @ApiCreatedResponse({ type: AgentDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: INVALID })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'An agent with this slug exists' })
  create(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<AgentDto> {
    return this.registry.create(principal.organizationId, body, actorOf(principal));
  }

  @Get(':slug')
  @AnyRole()
  @ApiOperation({ summary: 'One agent with its health: heartbeat, breaker state, recent error rate and latency, health score, recent steps' })
  @ApiOkResponse({ type: AgentDetailDto })
  get(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string): Promise<AgentDetailDto> {
    return this.registry.get(principal.organizationId, slug);
  }

  @Put(':slug')
  @Roles()
  @ApiOperation({ summary: 'Replace an agent (admin): every field as in POST; status active re-enables a disabled agent' })
  @ApiBody({ type: AgentInputDto })
  @ApiOkResponse({ type: AgentDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: INVALID })
  update(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string, @Body() body: unknown): Promise<AgentDto> {
    return this.registry.update(principal.organizationId, slug, body, actorOf(principal));
  }

  @Delete(':slug')
  @Roles()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Disable an agent (admin). It is kept, not deleted: past steps name it, and new steps on it fail with AGENT_DISABLED; PUT status active re-enables it',
  })
  @ApiNoContentResponse({ description: 'Disabled' })
  async disable(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string): Promise<void> {
    await this.registry.disable(principal.organizationId, slug, actorOf(principal));
  }

  @Post(':slug/heartbeat')
  @Roles('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Report that the agent is alive (operator or admin, e.g. an API key of the agent\'s host); sets last heartbeat and health' })
  @ApiOkResponse({ type: AgentDto })
  heartbeat(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string, @Body() body: HeartbeatDto): Promise<AgentDto> {
    return this.registry.heartbeat(principal.organizationId, slug, body.health);
  }
}
