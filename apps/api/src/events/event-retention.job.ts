import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { BackgroundLoops, WakeSignal } from '#core';
import { EventRetentionRepository } from '#events';

const HOUR_MS = 60 * 60 * 1000;
const FIRST_RUN_MS = 60 * 1000;
const BATCH = 5000;
const DAY_MS = 24 * HOUR_MS;

/**
 * BATON_EVENT_RETENTION_DAYS: every hour, processes that run a worker delete the events of runs that finished longer
 * ago than the retention, keeping each run row and its terminal event. Batches keep each transaction short; several
 * workers doing the same pass only delete fewer rows each.
 */
@Injectable()
export class EventRetentionJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('EventRetention');
  private readonly wake = new WakeSignal();
  private readonly lifecycle = new BackgroundLoops([this.wake]);

  constructor(
    private readonly repository: EventRetentionRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.eventRetentionDays === undefined || this.config.role === 'api' || !this.lifecycle.begin()) return;
    this.lifecycle.spawn(async () => {
      for (let wait = FIRST_RUN_MS; ; wait = HOUR_MS) {
        await this.wake.wait(wait);
        if (!this.lifecycle.running) return;
        await this.pruneOnce().catch((error: unknown) => this.logger.warn(`event retention failed: ${(error as Error).message}`));
      }
    });
  }

  /** One pass; returns the number of events deleted. */
  async pruneOnce(now = new Date()): Promise<number> {
    const days = this.config.eventRetentionDays;
    if (days === undefined) return 0;
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    let total = 0;
    for (;;) {
      if (this.lifecycle.stopping) break;
      const n = await this.repository.pruneBatch(cutoff, BATCH);
      total += n;
      if (n < BATCH) break;
    }
    if (total > 0) this.logger.log(`deleted ${total} events of runs finished before ${cutoff.toISOString()}`);
    return total;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.lifecycle.stop();
  }
}
