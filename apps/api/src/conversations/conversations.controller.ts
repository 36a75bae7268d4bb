import { Body, Controller, Delete, Get, Headers, Param, Put, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ConversationsService } from '#conversations';
import { DomainError } from '#core';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { pageRequest } from '../common/pagination.dto.js';
import {
  AgentStateDto,
  ConversationDetailDto,
  ConversationDto,
  ConversationPageDto,
  DEFAULT_HISTORY_LIMIT,
  HistoryQueryDto,
  ListConversationsQueryDto,
  PutAgentStateDto,
  toAgentStateDto,
  toConversationDto,
  toTaskMessageDto,
} from './conversation.dto.js';

const AGENT_SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function agentSlug(slug: string): string {
  if (!AGENT_SLUG.test(slug))
    throw DomainError.validation('Invalid agent slug', [{ path: '$.slug', message: 'letters, digits, . _ -, at most 100' }]);
  return slug;
}

/** The version a write is based on: the body's `version`, else `If-Match: "<n>"` (weak or strong); both must agree. */
function expectedVersion(body: number | undefined, ifMatch: string | undefined): number {
  let header: number | undefined;
  if (ifMatch !== undefined) {
    const match = /^\s*(?:W\/)?"?(\d{1,10})"?\s*$/.exec(ifMatch);
    if (!match) throw DomainError.validation('Invalid If-Match', [{ path: 'If-Match', message: 'the ETag of a GET: "<version>"' }]);
    header = Number(match[1]);
  }
  if (body !== undefined && header !== undefined && body !== header)
    throw DomainError.validation('version and If-Match disagree', [
      { path: '$.version', message: `body says ${body}, If-Match says ${header}` },
    ]);
  const version = body ?? header;
  if (version === undefined)
    throw DomainError.validation('A write needs the version it is based on', [
      { path: '$.version', message: 'send version in the body (0 to create) or an If-Match header with the ETag of a GET' },
    ]);
  return version;
}

@ApiTags('conversations')
@Authenticated()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such conversation in your organization' })
@Controller('conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Get()
  @AnyRole()
  @ApiOperation({ summary: 'List conversations (A2A contexts), most recently active first' })
  @ApiOkResponse({ type: ConversationPageDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListConversationsQueryDto): Promise<ConversationPageDto> {
    const page = await this.conversations.list(principal.organizationId, query.state, pageRequest(query));
    return { ...page, items: page.items.map(toConversationDto) };
  }

  @Get(':contextId')
  @AnyRole()
  @ApiOperation({ summary: 'A conversation with one page of its ordered history (`?after=<seq>&limit=`)' })
  @ApiOkResponse({ type: ConversationDetailDto })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('contextId') contextId: string,
    @Query() query: HistoryQueryDto,
  ): Promise<ConversationDetailDto> {
    const limit = query.limit ?? DEFAULT_HISTORY_LIMIT;
    const { conversation, messages } = await this.conversations.history(principal.organizationId, contextId, query.after ?? 0, limit);
    const last = messages.at(-1);
    return {
      ...toConversationDto(conversation),
      history: { items: messages.map(toTaskMessageDto), nextAfter: last && messages.length === limit ? last.seq : null },
    };
  }

  @Delete(':contextId')
  @Roles('operator')
  @ApiOperation({ summary: 'Expire the conversation now: its history and agent state are deleted, its contextId accepts no more messages' })
  @ApiOkResponse({ type: ConversationDto })
  async expire(@CurrentPrincipal() principal: Principal, @Param('contextId') contextId: string): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.expireNow(principal.organizationId, contextId));
  }

  @Get(':contextId/agents/:slug/state')
  @AnyRole()
  @ApiOperation({ summary: "An agent's state document in the conversation, with its version as the ETag (version 0: never written)" })
  @ApiOkResponse({ type: AgentStateDto, headers: { ETag: { description: '"<version>"', schema: { type: 'string' } } } })
  async agentState(
    @CurrentPrincipal() principal: Principal,
    @Param('contextId') contextId: string,
    @Param('slug') slug: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AgentStateDto> {
    const state = await this.conversations.agentState(principal.organizationId, contextId, agentSlug(slug));
    response.setHeader('ETag', `"${state.version}"`);
    return toAgentStateDto(contextId, state);
  }

  @Put(':contextId/agents/:slug/state')
  @Roles('operator')
  @ApiOperation({ summary: "Replace an agent's state document, if it is still at the version given (body `version` or `If-Match`)" })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of a GET ("<version>"), instead of `version` in the body' })
  @ApiOkResponse({ type: AgentStateDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'No version in the body nor an If-Match header, or they disagree' })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'Stale write: `details.currentVersion` is the version to read and retry from; or the conversation expired',
  })
  async putAgentState(
    @CurrentPrincipal() principal: Principal,
    @Param('contextId') contextId: string,
    @Param('slug') slug: string,
    @Body() body: PutAgentStateDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AgentStateDto> {
    const expected = expectedVersion(body.version, ifMatch);
    const state = await this.conversations.writeAgentState(principal.organizationId, contextId, agentSlug(slug), body.state, expected);
    response.setHeader('ETag', `"${state.version}"`);
    return toAgentStateDto(contextId, state);
  }
}
