import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '#config';
import { EventTail } from '#events';
import { OperationalGaugesRepository } from '#persistence';

/** How long an event may stay undelivered by the tail before /ready marks the tail `behind` (still up). */
export const TAIL_STALL_SECONDS = 30;

/**
 * Watches this process's event tail (API roles: it feeds the status cache, SSE and WebSockets) from the outside:
 * remembers the last event it delivered, and measures its lag as how long the first committed event past that one
 * has been waiting since this probe first saw it (not since its created_at, which is its transaction's start and
 * may be long before the commit). The tail holds back events while an older writing transaction is still open
 * (invariant 6), so a long write transaction anywhere shows up here as lag. Worker-only processes run no tail.
 */
@Injectable()
export class EventTailProbe implements OnApplicationBootstrap, OnApplicationShutdown {
  private lastSeenId = '0';
  /** The first committed event the tail had not delivered at the last look, and when it was first noticed. */
  private waiting: { id: string; since: number } | null = null;
  private startedAt = 0;
  private subscription: Subscription | null = null;

  constructor(
    private readonly tail: EventTail,
    private readonly repository: OperationalGaugesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Whether this process runs the tail at all (not in worker-only processes). */
  get runsHere(): boolean {
    return this.config.role !== 'worker';
  }

  get active(): boolean {
    return this.subscription !== null;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.runsHere) return;
    this.subscription = this.tail.events$.subscribe((batch) => {
      for (const event of batch) if (BigInt(event.id) > BigInt(this.lastSeenId)) this.lastSeenId = event.id;
    });
    await this.tail.start();
    const newest = await this.repository.newestEvent();
    this.lastSeenId = newest?.id ?? '0';
    this.startedAt = Date.now();
  }

  /** Seconds the oldest event not yet delivered by the tail has waited (0 when it is caught up); null when not running. */
  async lagSeconds(): Promise<number | null> {
    if (!this.active || this.startedAt === 0) return null;
    const next = await this.repository.firstEventIdAfter(this.lastSeenId);
    if (next === null) {
      this.waiting = null;
      return 0;
    }
    if (this.waiting?.id !== next) this.waiting = { id: next, since: Date.now() };
    return (Date.now() - this.waiting.since) / 1000;
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }
}
