import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { CONVERSATION_STATES, ConversationsService } from '#conversations';
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
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private pass: Promise<unknown> | null = null;

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
    const schedule = () => {
      this.timer = setTimeout(() => {
        this.pass = this.sweepOnce()
          .catch((error: unknown) => this.logger.warn(`conversation sweep failed: ${(error as Error).message}`))
          .finally(() => {
            this.pass = null;
            if (!this.stopped) schedule();
          });
      }, this.config.conversationSweepMs);
      this.timer.unref();
    };
    schedule();
  }

  /** One pass: answers first (so a run that finished just before its context expires is still recorded), then states. */
  async sweepOnce(): Promise<{ answers: number; idled: number; expired: number }> {
    const answers = await this.answers.sweep();
    const { idled, expired } = await this.conversations.sweepStates();
    if (expired > 0) this.logger.log(`expired ${expired} conversation(s)`);
    return { answers, idled, expired };
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }
}
