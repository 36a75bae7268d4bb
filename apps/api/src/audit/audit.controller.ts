import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '#identity';
import { AuditLogRepository } from '#persistence';
import { Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { timeRange } from './time-range.js';
import { pageRequest } from '../common/pagination.dto.js';
import { AuditPageDto, AuditQueryDto } from './audit.dto.js';

@ApiTags('audit')
@Authenticated()
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditLogRepository) {}

  @Get()
  @Roles()
  @ApiOperation({ summary: 'Audit log of the organization, newest first: every write by a person, an API key or the system (admin)' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: AuditQueryDto): Promise<AuditPageDto> {
    const { from, to } = timeRange(query);
    const page = await this.audit.search(
      principal.organizationId,
      { actorType: query.actorType, actorId: query.actor, action: query.action, targetType: query.targetType, targetId: query.target, from, to },
      pageRequest(query),
    );
    return { ...page, items: page.items.map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })) };
  }
}
