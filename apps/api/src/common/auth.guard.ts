import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError, DomainErrorCode, type Role } from '#core';
import { AuthService, OrganizationsService, PLATFORM_ORGANIZATION_SLUG } from '#identity';
import { PLATFORM_KEY, PUBLIC_KEY, ROLES_KEY, type AuthenticatedRequest } from './auth.decorators.js';

/** Global guard: every route needs a bearer token unless marked @Public; @Roles narrows who may call. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly organizations: OrganizationsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<Request & Partial<AuthenticatedRequest>>();
    const token = bearerToken(request);
    if (!token) throw new DomainError(DomainErrorCode.Unauthenticated, 'Missing bearer token');
    const principal = await this.auth.authenticate(token);
    request.principal = principal;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (roles && principal.role !== 'admin' && !roles.includes(principal.role)) {
      throw new DomainError(DomainErrorCode.Forbidden, `Role ${principal.role} may not do this; requires ${['admin', ...roles].join(' or ')}`);
    }
    if (this.reflector.getAllAndOverride<boolean>(PLATFORM_KEY, targets)) {
      if (!(await this.organizations.isPlatformAdmin(principal))) {
        throw new DomainError(DomainErrorCode.Forbidden, `Only admins of the platform organization "${PLATFORM_ORGANIZATION_SLUG}" may do this`);
      }
    }
    return true;
  }
}

export function bearerToken(request: Request): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return match?.[1];
  }
  return undefined;
}
