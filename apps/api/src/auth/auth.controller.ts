import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { LoginThrottle, LoginThrottled } from './login-throttle.js';
import { ApiKeysRepository } from '#persistence';
import { AuthService, type Principal } from '#identity';
import { DomainError } from '#core';
import { Authenticated, CurrentPrincipal, Public, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { AccessTokenDto, LoginDto } from './login.dto.js';
import { ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto } from './api-key.dto.js';
import { PaginationQueryDto, pageRequest } from '../common/pagination.dto.js';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly apiKeys: ApiKeysRepository,
    private readonly throttle: LoginThrottle,
  ) {}

  @Public()
  @Post('auth/login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Exchange email and password for a JWT access token' })
  @ApiOkResponse({ type: AccessTokenDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong email or password (the same answer for an unknown email)' })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Too many failed logins for this email or from this address (Retry-After)' })
  async login(@Body() body: LoginDto, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<AccessTokenDto> {
    try {
      return await this.throttle.attempt(body.email, request.ip ?? 'unknown', () => this.auth.login(body.email, body.password));
    } catch (error) {
      if (error instanceof LoginThrottled) response.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw error;
    }
  }

  @Get('api-keys')
  @Authenticated()
  @Roles()
  @ApiOperation({ summary: "List the organization's API keys (admin)" })
  @ApiOkResponse({ type: ApiKeyPageDto })
  async listKeys(@CurrentPrincipal() principal: Principal, @Query() query: PaginationQueryDto): Promise<ApiKeyPageDto> {
    const page = pageRequest(query);
    return { ...(await this.apiKeys.page(principal.organizationId, page)), ...page };
  }

  @Post('api-keys')
  @Authenticated()
  @Roles()
  @ApiOperation({ summary: 'Create an API key (admin); the key is returned once' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  createKey(@CurrentPrincipal() principal: Principal, @Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.auth.createApiKey(principal.organizationId, body.name, body.role, principal.userId);
  }

  @Delete('api-keys/:id')
  @Authenticated()
  @Roles()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke an API key (admin)' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async revokeKey(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    if (!(await this.auth.revokeApiKey(principal.organizationId, id))) throw DomainError.notFound('API key', id);
  }
}
