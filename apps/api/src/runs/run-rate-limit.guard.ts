import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { APP_CONFIG, type AppConfig } from '#config';
import { EngineDatabase } from '#engine';
import type { AuthenticatedRequest } from '../common/auth.decorators.js';

/** The per-organization run creation limiter (shared by REST and A2A starts: one counter per organization). */
export function runCreationLimiter(db: EngineDatabase, config: AppConfig): RateLimiterPostgres {
  return new RateLimiterPostgres({
    storeClient: db.pool,
    storeType: 'pool',
    tableName: 'rate_limits',
    tableCreated: true,
    keyPrefix: 'runs',
    points: config.runRateLimit,
    duration: 60,
  });
}

/**
 * Run creation is rate limited per organization (not per IP: one tenant's burst must not starve another).
 * Counters live in PostgreSQL (table `rate_limits`, created by migration), so every API instance shares them.
 */
@Injectable()
export class RunRateLimitGuard implements CanActivate {
  private readonly limiter: RateLimiterPostgres;

  constructor(db: EngineDatabase, @Inject(APP_CONFIG) config: AppConfig) {
    this.limiter = runCreationLimiter(db, config);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Partial<AuthenticatedRequest>>();
    const response = context.switchToHttp().getResponse<Response>();
    const key = request.principal?.organizationId ?? 'anonymous';
    try {
      const res = await this.limiter.consume(key);
      response.setHeader('RateLimit-Remaining', String(res.remainingPoints));
      return true;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      response.setHeader('Retry-After', String(Math.ceil(rejection.msBeforeNext / 1000)));
      throw new HttpException(
        `Run creation rate limit reached for your organization; retry in ${Math.ceil(rejection.msBeforeNext / 1000)} s`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
  }
}
