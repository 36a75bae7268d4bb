import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '#core';
import type { Principal } from '#identity';
import { AuditLogRepository } from '#persistence';
import { Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
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
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from >= to) throw DomainError.validation('from must be before to', [{ path: '$.from', message: 'must be before to' }]);
    const page = await this.audit.search(
      principal.organizationId,
      { actorType: query.actorType, actorId: query.actor, action: query.action, targetType: query.targetType, targetId: query.target, from, to },
      pageRequest(query),
    );
    return { ...page, items: page.items.map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })) };
  }
}
