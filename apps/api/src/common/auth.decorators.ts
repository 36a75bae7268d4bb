import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ROLES, type Role } from '#core';
import { PLATFORM_ORGANIZATION_SLUG, type Principal } from '#identity';
import { ErrorResponseDto } from './error-response.dto.js';

export const PUBLIC_KEY = 'baton:public';
export const ROLES_KEY = 'baton:roles';
export const PLATFORM_KEY = 'baton:platform';

/**
 * Every operation states who may call it, in the OpenAPI document as `x-baton-access`: `['public']`, or the roles
 * allowed (admin always among them), plus `x-baton-platform: true` for platform admins only. The guard enforces
 * the metadata; test/roles-matrix.e2e-spec.ts reads the document, fails on an operation without the extension and
 * checks each against DESIGN.md section 9.
 */
export const ACCESS_EXTENSION = 'x-baton-access';
export const PLATFORM_EXTENSION = 'x-baton-platform';

/** No token needed (health, readiness, login, docs). */
export const Public = () => applyDecorators(SetMetadata(PUBLIC_KEY, true), ApiExtension(ACCESS_EXTENSION, ['public']));

/**
 * Roles allowed besides `admin` (who may do everything); `@Roles()` is admin only. Also documents the 403 answer.
 */
export function Roles(...roles: Role[]) {
  const allowed = ['admin', ...roles.filter((r) => r !== 'admin')];
  return applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    ApiExtension(ACCESS_EXTENSION, allowed),
    ApiForbiddenResponse({ description: `Requires role ${allowed.join(' or ')}`, type: ErrorResponseDto }),
  );
}

/** Reads: every authenticated role, viewers included (DESIGN.md section 9: viewer reads). */
export const AnyRole = () => applyDecorators(SetMetadata(ROLES_KEY, [...ROLES]), ApiExtension(ACCESS_EXTENSION, [...ROLES]));

/** Admins of the platform organization (`global`) only: managing tenants. */
export function PlatformAdmin() {
  return applyDecorators(
    Roles(),
    SetMetadata(PLATFORM_KEY, true),
    ApiExtension(PLATFORM_EXTENSION, true),
    ApiForbiddenResponse({ description: `Requires an admin of the platform organization "${PLATFORM_ORGANIZATION_SLUG}"`, type: ErrorResponseDto }),
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
