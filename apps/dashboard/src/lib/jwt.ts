export type Role = 'admin' | 'operator' | 'approver' | 'viewer';

export interface Session {
  token: string;
  email: string;
  role: Role;
  expiresAt: number;
}

/**
 * Reads the role and expiry out of the JWT's payload, only to decide what the UI shows: the server checks the
 * signature and the role on every call, so a forged payload gains nothing.
 */
export function sessionFromToken(token: string, email: string, expiresInSeconds: number, now = Date.now()): Session {
  const part = token.split('.')[1] ?? '';
  let role: Role = 'viewer';
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { role?: string };
    if (claims.role === 'admin' || claims.role === 'operator' || claims.role === 'approver' || claims.role === 'viewer') role = claims.role;
  } catch {
    // Not a JWT we can read: show the least (viewer); the server decides anyway.
  }
  return { token, email, role, expiresAt: now + expiresInSeconds * 1000 };
}

/** What each role may do (DESIGN.md section 9); admin may do everything. */
export const can = {
  operate: (role: Role) => role === 'admin' || role === 'operator',
  approve: (role: Role) => role === 'admin' || role === 'approver',
  administer: (role: Role) => role === 'admin',
};
