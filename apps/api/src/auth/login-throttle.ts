import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, DomainErrorCode } from '#core';

const WINDOW_SECONDS = 15 * 60;

export class LoginThrottled extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed logins; retry in ${retryAfterSeconds} s`, HttpStatus.TOO_MANY_REQUESTS);
  }
}

/**
 * Brute-force protection of /auth/login: failed attempts are counted per account (the email as typed, lower-cased,
 * whether or not it exists, so the answer tells nothing about which emails exist) and per client address, in a
 * 15-minute window; over either limit the login answers 429 with Retry-After before any password is checked. A
 * successful login clears the account's count. Counters live in PostgreSQL (`rate_limits`), shared by every instance.
 */
@Injectable()
export class LoginThrottle {
  private readonly account: RateLimiterPostgres;
  private readonly address: RateLimiterPostgres;

  constructor(@InjectDataSource() dataSource: DataSource, @Inject(APP_CONFIG) config: AppConfig) {
    // TypeORM's postgres driver keeps its pg Pool as `master`.
    const pool = (dataSource.driver as unknown as { master: Pool }).master;
    const limiter = (keyPrefix: string, points: number) =>
      new RateLimiterPostgres({ storeClient: pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true, keyPrefix, points, duration: WINDOW_SECONDS });
    this.account = limiter('login-account', config.loginMaxFailuresPerAccount);
    this.address = limiter('login-address', config.loginMaxFailuresPerAddress);
  }

  async attempt<T>(email: string, address: string, login: () => Promise<T>): Promise<T> {
    const accountKey = email.toLowerCase();
    const [byAccount, byAddress] = await Promise.all([this.account.get(accountKey), this.address.get(address)]);
    const blocked = [
      [byAccount, this.account.points],
      [byAddress, this.address.points],
    ] as const;
    const waits = blocked.filter(([res, points]) => res !== null && res.consumedPoints >= points).map(([res]) => res!.msBeforeNext);
    if (waits.length > 0) throw new LoginThrottled(Math.max(1, Math.ceil(Math.max(...waits) / 1000)));
    try {
      const result = await login();
      await this.account.delete(accountKey);
      return result;
    } catch (error) {
      if (error instanceof DomainError && error.code === DomainErrorCode.Unauthenticated) {
        // Over the limit, consume() rejects with a RateLimiterRes: that attempt still answers 401, the next one 429.
        await Promise.all([this.account.consume(accountKey), this.address.consume(address)].map((p) => p.catch((e: unknown) => { if (!(e instanceof RateLimiterRes)) throw e; })));
      }
      throw error;
    }
  }
}
