import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, DomainErrorCode, isUuid, ROLES, type Role } from '#core';
import { ApiKeysRepository, UsersRepository, type ApiKeyEntity } from '#persistence';
import { apiKeyMatches, generateApiKey, parseApiKey } from './api-key-codec.js';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './password-hasher.js';
import type { AccessTokenClaims, Principal } from './principal.js';
import { CredentialCache } from './credential-cache.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

export interface AccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

const UNAUTHENTICATED = () => new DomainError(DomainErrorCode.Unauthenticated, 'Invalid or missing credentials');
/** Clock skew tolerated on `iat` between API instances. */
const IAT_SKEW_SECONDS = 60;

type VerifiedClaims = AccessTokenClaims & { exp: number; iat: number };
type RequestUser = Awaited<ReturnType<UsersRepository['findForRequest']>>;

const userTag = (userId: string) => `user:${userId}`;
const apiKeyTag = (keyId: string) => `api_key:${keyId}`;

/**
 * The signature (HS256 only, pinned in IdentityModule) proves we issued the token; the claims must still have the
 * shape we issue: ids that are UUIDs (they go into SQL), a known role, an `exp` (a token without one would never
 * expire) and an `iat` not in the future.
 */
function wellFormed(claims: Record<string, unknown>, nowSeconds: number): boolean {
  return (
    typeof claims.sub === 'string' &&
    isUuid(claims.sub) &&
    typeof claims.org === 'string' &&
    isUuid(claims.org) &&
    (ROLES as readonly unknown[]).includes(claims.role) &&
    typeof claims.exp === 'number' &&
    typeof claims.iat === 'number' &&
    claims.iat <= nowSeconds + IAT_SKEW_SECONDS
  );
}

@Injectable()
export class AuthService {
  /** Signature checks only: a cached token lives at most until its own `exp`. */
  private readonly verified = new VerifiedTokenCache<VerifiedClaims>();
  /**
   * The user row behind a token and the API key row behind a key, reused for BATON_AUTH_CACHE_MS: disabling a user,
   * changing a role or revoking a key through this instance applies on the next request (`forgetUser`,
   * `revokeApiKey`); through another instance, within that time.
   */
  private readonly userRows: CredentialCache<RequestUser>;
  private readonly apiKeyRows: CredentialCache<ApiKeyEntity | null>;
  /** Key rows whose use was recorded (`last_used_at`): once per read of the row, not once per request. */
  private readonly touched = new WeakSet<ApiKeyEntity>();

  constructor(
    private readonly jwt: JwtService,
    private readonly users: UsersRepository,
    private readonly apiKeys: ApiKeysRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.userRows = new CredentialCache(config.authCacheMs);
    this.apiKeyRows = new CredentialCache(config.authCacheMs);
  }

  async login(email: string, password: string): Promise<AccessToken> {
    const user = await this.users.findForLogin(email);
    const valid = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !valid || user.disabledAt) throw new DomainError(DomainErrorCode.Unauthenticated, 'Invalid email or password');
    const claims: AccessTokenClaims = { sub: user.id, org: user.organizationId, role: user.role };
    const token = await this.jwt.signAsync(claims, { expiresIn: this.config.jwtExpiresInSeconds });
    return { access_token: token, token_type: 'Bearer', expires_in: this.config.jwtExpiresInSeconds };
  }

  /** Resolves a bearer token (JWT or API key) to a principal, or throws Unauthenticated. */
  async authenticate(token: string): Promise<Principal> {
    const apiKey = parseApiKey(token);
    if (apiKey) return this.authenticateApiKey(token, apiKey.prefix);
    let claims = this.verified.get(token);
    if (!claims) {
      let decoded: Record<string, unknown>;
      try {
        decoded = await this.jwt.verifyAsync<Record<string, unknown>>(token, { algorithms: ['HS256'] });
      } catch {
        throw UNAUTHENTICATED();
      }
      if (!wellFormed(decoded, Date.now() / 1000)) throw UNAUTHENTICATED();
      claims = decoded as unknown as VerifiedClaims;
      this.verified.set(token, claims);
    }
    const { org, sub } = claims;
    const user = await this.userRows.get(`${org}:${sub}`, () => this.users.findForRequest(org, sub), (row) => (row ? [userTag(row.id)] : []));
    if (!user || user.disabledAt) throw UNAUTHENTICATED();
    return { kind: 'user', id: user.id, userId: user.id, organizationId: user.organizationId, role: user.role, email: user.email };
  }

  private async authenticateApiKey(token: string, prefix: string): Promise<Principal> {
    const key = await this.apiKeyRows.get(
      prefix,
      () => this.apiKeys.findActiveByPrefix(prefix),
      (row) => (row ? [apiKeyTag(row.id), ...(row.userId ? [userTag(row.userId)] : [])] : []),
    );
    // The row may be a few seconds old: its expiry is checked here as the query checked it.
    if (!key || !apiKeyMatches(token, key.keyHash) || (key.expiresAt && key.expiresAt.getTime() <= Date.now())) throw UNAUTHENTICATED();
    if (!this.touched.has(key)) {
      this.touched.add(key);
      void this.apiKeys.touch(key.id).catch(() => undefined);
    }
    return { kind: 'api_key', id: key.id, userId: key.userId, organizationId: key.organizationId, role: key.role };
  }

  /** After a user was disabled or given another role: its tokens and bound API keys are read again on their next use. */
  forgetUser(userId: string): void {
    this.userRows.forget(userTag(userId));
    this.apiKeyRows.forget(userTag(userId));
  }

  /** Revokes an API key of the organization; it stops on its next use. False when there is no such active key. */
  async revokeApiKey(organizationId: string, id: string): Promise<boolean> {
    const revoked = await this.apiKeys.revoke(organizationId, id);
    this.apiKeyRows.forget(apiKeyTag(id));
    return revoked;
  }

  /** Issues an API key; the clear key is returned once and never stored. */
  async createApiKey(
    organizationId: string,
    name: string,
    role: Role,
    userId: string | null,
  ): Promise<{ id: string; key: string; prefix: string }> {
    const generated = generateApiKey();
    const row = await this.apiKeys.create(organizationId, { name, role, userId, prefix: generated.prefix, keyHash: generated.hash });
    return { id: row.id, key: generated.key, prefix: generated.prefix };
  }
}
