import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { CONVERSATION_STATES, ConversationsService } from '#conversations';
import { BackgroundLoops, WakeSignal } from '#core';
import { BatonMetrics } from '#observability';
import { ConversationAnswers } from './conversation-answers.js';

/**
 * Every BATON_CONVERSATION_SWEEP_MS, on every API instance: records the answers of runs that finished or paused
 * into their contexts' histories, then turns quiet conversations idle and expires the ones past their expiry.
 * Leader-free: each step locks what it changes with SKIP LOCKED (or moves a mark under a lock), so instances sweeping
 * at once split the work and never apply a change twice. Also registers the `baton_conversations` gauge.
 */
@Injectable()
export class ConversationJob implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Conversations');
  private readonly wake = new WakeSignal();
  private readonly lifecycle = new BackgroundLoops([this.wake]);

  constructor(
    private readonly conversations: ConversationsService,
    private readonly answers: ConversationAnswers,
    private readonly metrics: BatonMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.metrics.scrapeGauge(
      'baton_conversations',
      'Conversations (A2A contexts) by state (active, idle, expired).',
      ['state'],
      async () => {
        const rows = await this.conversations.countsByState();
        return CONVERSATION_STATES.map((state) => ({ labels: { state }, value: rows.find((r) => r.state === state)?.n ?? 0 }));
      },
    );
  }

  onApplicationBootstrap(): void {
    if (!this.lifecycle.begin()) return;
    this.lifecycle.spawn(async () => {
      for (;;) {
        await this.wake.wait(this.config.conversationSweepMs);
        if (!this.lifecycle.running) return;
        await this.sweepOnce().catch((error: unknown) => this.logger.warn(`conversation sweep failed: ${(error as Error).message}`));
      }
    });
  }

  /** One pass: answers first (so a run that finished just before its context expires is still recorded), then states. */
  async sweepOnce(): Promise<{ answers: number; idled: number; expired: number }> {
    const answers = await this.answers.sweep();
    const { idled, expired } = await this.conversations.sweepStates();
    if (expired > 0) this.logger.log(`expired ${expired} conversation(s)`);
    return { answers, idled, expired };
  }

  async beforeApplicationShutdown(): Promise<void> {
    // A pass in progress ends before the pool closes.
    await this.lifecycle.stop();
  }
}
