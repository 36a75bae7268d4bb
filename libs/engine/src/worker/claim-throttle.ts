/**
 * Backs off while agents fail in bursts: when at least BATON_DEGRADED_OPEN_BREAKERS agents have an open circuit
 * breaker (published on the agent rows, so every instance sees the same number), this instance is `degraded`:
 * GET /ready says so with the reason, and its worker fills only BATON_DEGRADED_CLAIM_PERCENT of its concurrency,
 * so a failing downstream is not hammered by retries and the database by their transactions. Once the breakers
 * close or half-open, the full concurrency comes back. Checked every few seconds, and at once when this process
 * commits a breaker change.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { BackgroundLoops } from '#core';
import { APP_CONFIG, type AppConfig } from '#config';
import { openBreakers } from '../store/agent-breaker.repository.js';
import { EngineDatabase } from '../store/engine-database.js';

export interface ThrottleStatus {
  degraded: boolean;
  /** Agents with an open breaker (within their cool-down), deployment-wide. */
  openBreakers: number;
  /** A few of them, most recently opened first. */
  agents: string[];
  /** When degraded: why, for /ready. */
  reason?: string;
  checkedAt: string | null;
}

const CHECK_MS = 5_000;

@Injectable()
export class ClaimThrottle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClaimThrottle.name);
  private current: ThrottleStatus = { degraded: false, openBreakers: 0, agents: [], checkedAt: null };
  private readonly lifecycle = new BackgroundLoops();
  private refreshing: Promise<ThrottleStatus> | null = null;

  constructor(
    private readonly db: EngineDatabase,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.lifecycle.begin()) return;
    this.lifecycle.every(Math.min(CHECK_MS, Math.max(500, Math.floor(this.config.breakerCooldownMs / 4))), () => this.refresh().catch(() => undefined));
    this.lifecycle.onStop(
      this.db.onCommitted((events) => {
        if (events.some((e) => e.type.startsWith('agent.breaker_'))) void this.refresh().catch(() => undefined);
      }),
    );
    void this.refresh().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lifecycle.stop();
  }

  get status(): ThrottleStatus {
    return this.current;
  }

  /** The claim concurrency of a worker whose full concurrency is `concurrency`, now. */
  limit(concurrency: number): number {
    if (!this.current.degraded) return concurrency;
    return Math.max(1, Math.floor((concurrency * this.config.degradedClaimPercent) / 100));
  }

  /** Reads the open breakers now (one query; concurrent callers share it). */
  refresh(): Promise<ThrottleStatus> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async read(): Promise<ThrottleStatus> {
    const { count, agents } = await openBreakers(this.db.pool, this.config.breakerCooldownMs);
    const degraded = count >= this.config.degradedOpenBreakers;
    const next: ThrottleStatus = { degraded, openBreakers: count, agents, checkedAt: new Date().toISOString() };
    if (degraded) {
      const named = agents.join(', ') + (count > agents.length ? `, +${count - agents.length} more` : '');
      next.reason = `${count} agents have an open circuit breaker (${named}); claim concurrency lowered to ${this.config.degradedClaimPercent}%`;
    }
    if (degraded && !this.current.degraded) this.logger.warn(next.reason as string);
    else if (!degraded && this.current.degraded) this.logger.log(`circuit breakers recovered (${count} open): full claim concurrency again`);
    this.current = next;
    return next;
  }
}
