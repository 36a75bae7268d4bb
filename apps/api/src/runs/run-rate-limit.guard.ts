import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { APP_CONFIG, type AppConfig } from '#config';
import { EngineDatabase } from '#engine';
import type { AuthenticatedRequest } from '../common/auth.decorators.js';

/** What run creation asks of its limiter: one point, or a rejection (RateLimiterRes) saying when to retry. */
export interface RunLimiter {
  consume(key: string): Promise<RateLimiterRes>;
}

/** The per-organization run creation limiter (shared by REST and A2A starts: one counter per organization). */
export function runCreationLimiter(db: EngineDatabase, config: AppConfig): RunLimiter {
  const store = new RateLimiterPostgres({
    storeClient: db.pool,
    storeType: 'pool',
    tableName: 'rate_limits',
    tableCreated: true,
    keyPrefix: 'runs',
    points: config.runRateLimit,
    duration: 60,
  });
  return new ReservingLimiter(store, config.runRateLimit);
}

/**
 * Takes an organization's points from the shared PostgreSQL counter a block at a time and hands them out from memory:
 * every instance still counts against the same per-minute limit, but a busy organization costs one upsert of its
 * counter row per block instead of one per run (that row is one hot lock: at one upsert per run, creations queued on
 * it, each waiting for the previous one's commit). The block is 1/50 of the limit, 1 to 25 points: with the default
 * 600 per minute, 12. An instance may leave up to a block unused when the minute ends; none is ever given beyond
 * the limit (a block the counter refuses is cut to what was left).
 */
export class ReservingLimiter implements RunLimiter {
  private readonly held = new Map<string, { left: number; remaining: number; until: number }>();
  private readonly reserving = new Map<string, Promise<void>>();
  private readonly block: number;

  constructor(
    private readonly store: RateLimiterPostgres,
    private readonly points: number,
  ) {
    this.block = Math.max(1, Math.min(25, Math.floor(points / 50)));
  }

  async consume(key: string): Promise<RateLimiterRes> {
    for (;;) {
      const now = Date.now();
      const held = this.held.get(key);
      if (held && now < held.until) {
        if (held.left > 0) {
          held.left--;
          return new RateLimiterRes(held.remaining + held.left, held.until - now, this.points - held.remaining - held.left, false);
        }
        if (held.remaining === 0) throw new RateLimiterRes(0, held.until - now, this.points, false);
      }
      const pending = this.reserving.get(key) ?? this.reserve(key);
      await pending;
    }
  }

  /** One reservation per organization at a time: concurrent requests wait for it and share the block. */
  private reserve(key: string): Promise<void> {
    const reservation = (async () => {
      try {
        const res = await this.store.consume(key, this.block);
        this.held.set(key, { left: this.block, remaining: res.remainingPoints, until: Date.now() + res.msBeforeNext });
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        // The counter took the whole block anyway: what was left before it is ours, and nothing after it.
        const left = Math.max(0, Math.min(this.block, this.points - (rejection.consumedPoints - this.block)));
        this.held.set(key, { left, remaining: 0, until: Date.now() + rejection.msBeforeNext });
      }
    })().finally(() => this.reserving.delete(key));
    this.reserving.set(key, reservation);
    return reservation;
  }
}

/**
 * Run creation is rate limited per organization (not per IP: one tenant's burst must not starve another).
 * Counters live in PostgreSQL (table `rate_limits`, created by migration), so every API instance shares them.
 */
@Injectable()
export class RunRateLimitGuard implements CanActivate {
  private readonly limiter: RunLimiter;

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
