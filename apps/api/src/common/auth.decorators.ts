import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Role } from '#core';
import type { Principal } from '#identity';
import { ErrorResponseDto } from './error-response.dto.js';

export const PUBLIC_KEY = 'baton:public';
export const ROLES_KEY = 'baton:roles';

/** No token needed (health, readiness, login, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/**
 * Roles allowed besides `admin` (who may do everything). Without it any authenticated role may call
 * (viewers read). Also documents the bearer scheme and the 401/403 answers.
 */
export function Roles(...roles: Role[]) {
  return applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    ApiForbiddenResponse({ description: `Requires role ${['admin', ...roles].join(' or ')}`, type: ErrorResponseDto }),
  );
}

/** Marks a controller as authenticated in Swagger. */
export function Authenticated() {
  return applyDecorators(
    ApiBearerAuth('bearer'),
    ApiUnauthorizedResponse({ description: 'Missing or invalid bearer token (JWT or API key)', type: ErrorResponseDto }),
  );
}

export interface AuthenticatedRequest {
  principal: Principal;
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  return ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
});
