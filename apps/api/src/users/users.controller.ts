import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { OrganizationsService, UsersService, type Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { pageRequest } from '../common/pagination.dto.js';
import { CreateUserDto, ListUsersQueryDto, MeDto, toUserDto, UpdateUserDto, UserDto, UserPageDto } from './user.dto.js';

const NOT_FOUND = { type: ErrorResponseDto, description: 'No such user in your organization' };

@ApiTags('users')
@Authenticated()
@Controller()
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly organizations: OrganizationsService,
  ) {}

  @Get('me')
  @AnyRole()
  @ApiOperation({ summary: 'Who am I: the caller (user or API key), role and organization' })
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentPrincipal() principal: Principal): Promise<MeDto> {
    const organization = await this.organizations.target(principal, undefined);
    return {
      kind: principal.kind,
      id: principal.id,
      userId: principal.userId,
      email: principal.email ?? null,
      role: principal.role,
      organization: { id: organization.id, slug: organization.slug, name: organization.name },
      platformAdmin: await this.organizations.isPlatformAdmin(principal),
    };
  }

  @Get('users')
  @Roles()
  @ApiOperation({ summary: "List the organization's users, oldest first (admin); platform admins may name another organization" })
  @ApiOkResponse({ type: UserPageDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such organization' })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    const organization = await this.organizations.target(principal, query.organization);
    const page = pageRequest(query);
    const { items, total } = await this.users.page(organization.id, page);
    return { items: items.map(toUserDto), total, ...page };
  }

  @Post('users')
  @Roles()
  @ApiOperation({ summary: 'Create a user (admin); platform admins may create it in another organization' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such organization' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'A user with this email exists (emails are unique across organizations)' })
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateUserDto): Promise<UserDto> {
    const { organization: slug, ...command } = body;
    const organization = await this.organizations.target(principal, slug);
    return toUserDto(await this.users.createIn(organization, command));
  }

  @Get('users/:id')
  @Roles()
  @ApiOperation({ summary: 'One user of the organization (admin)' })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse(NOT_FOUND)
  async get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<UserDto> {
    return toUserDto(await this.users.get(principal.organizationId, id));
  }

  @Put('users/:id')
  @Roles()
  @ApiOperation({ summary: "Change a user's role (admin); applies to the user's next request" })
  @ApiOkResponse({ type: UserDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Your own role' })
  async update(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: UpdateUserDto): Promise<UserDto> {
    return toUserDto(await this.users.setRole(principal, id, body.role));
  }

  @Delete('users/:id')
  @Roles()
  @ApiOperation({ summary: 'Disable a user (admin): its tokens and the API keys bound to it stop working at once' })
  @ApiOkResponse({ type: UserDto, description: 'The disabled user (disabledAt set); disabling again is a no-op' })
  @ApiNotFoundResponse(NOT_FOUND)
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Yourself' })
  async disable(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<UserDto> {
    return toUserDto(await this.users.disable(principal, id));
  }
}
