import type { Role } from '#core';

/** Who is calling: resolved from a JWT or an API key, attached to every authenticated request. */
export interface Principal {
  kind: 'user' | 'api_key';
  /** The user id (JWT) or the API key id. */
  id: string;
  /** The user behind the call, when there is one (an API key may be bound to a user). */
  userId: string | null;
  organizationId: string;
  role: Role;
  /** The user's email (JWT callers), used to match approval assignees. */
  email?: string;
}

export interface AccessTokenClaims {
  sub: string;
  org: string;
  role: Role;
}

/** Who a principal is as an engine actor (recorded on decisions, audit entries and started runs). */
export function actorOf(principal: Principal): { type: Principal['kind']; id: string; userId: string | null; role: Role; email: string | null } {
  return { type: principal.kind, id: principal.id, userId: principal.userId, role: principal.role, email: principal.email ?? null };
}
