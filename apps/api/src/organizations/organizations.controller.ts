import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OrganizationsService } from '#identity';
import { Authenticated, PlatformAdmin } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { PaginationQueryDto, pageRequest } from '../common/pagination.dto.js';
import { CreateOrganizationDto, OrganizationDto, OrganizationPageDto, toOrganizationDto } from './organization.dto.js';

/** Tenants. Only admins of the platform organization `global` see or create them; users are added with POST /users. */
@ApiTags('organizations')
@Authenticated()
@PlatformAdmin()
@Controller('organizations')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @ApiOperation({ summary: 'List organizations by slug (platform admins)' })
  @ApiOkResponse({ type: OrganizationPageDto })
  async list(@Query() query: PaginationQueryDto): Promise<OrganizationPageDto> {
    const page = pageRequest(query);
    const { items, total } = await this.organizations.list(page);
    return { items: items.map(toOrganizationDto), total, ...page };
  }

  @Post()
  @ApiOperation({ summary: 'Create an organization (platform admins); then POST /users with `organization` adds its first admin' })
  @ApiCreatedResponse({ type: OrganizationDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The slug exists' })
  async create(@Body() body: CreateOrganizationDto): Promise<OrganizationDto> {
    return toOrganizationDto(await this.organizations.create(body.slug, body.name));
  }
}
