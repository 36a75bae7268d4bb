/**
 * Sends the outbox (BATON_ROLE all|worker). Keeps these promises:
 * - at least once: a delivery leaves the outbox only when a receiver answered 2xx, or as `dead` after
 *   BATON_WEBHOOK_MAX_ATTEMPTS failures; retries back off exponentially with jitter; a crash mid-attempt is
 *   recovered by the claim lease (any instance);
 * - one attempt = one POST of the event JSON with the X-Orchestration-* headers, signed with the subscription's
 *   secret; a fresh timestamp (and so signature) per attempt, the same body and event id every time, so receivers
 *   deduplicate on the event id;
 * - a slow or dead receiver costs at most BATON_WEBHOOK_TIMEOUT_MS of one of BATON_WEBHOOK_CONCURRENCY slots,
 *   never the engine's time: the outbox rows were written by the event's own transaction.
 * Woken by NOTIFY baton_events (sent after every commit that appended events, so possibly with new deliveries in the
 * outbox; at most once per EVENT_WAKE_SPACING_MS) and baton_webhooks (a redelivery), with polling as a fallback and
 * for scheduled retries. The outbox trigger itself does not notify: see migration Phase4WebhookWakeups.
 */
import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { pushNotificationBody } from '#a2a';
import { APP_CONFIG, type AppConfig } from '#config';
import { BackgroundLoops, WakeSignal, type JsonValue } from '#core';
import { EVENTS_CHANNEL, PgListener, WEBHOOKS_CHANNEL } from '#events';
import { BatonMetrics } from '#observability';
import { A2aPushTargetsRepository } from './a2a-push-targets.repository.js';
import { webhookRetryDelayMs, type WebhookRetryPolicy } from './webhook-backoff.js';
import { DeliveryOutboxRepository, type AttemptOutcome, type ClaimedDelivery, type NextStep } from './delivery-outbox.repository.js';
import { WebhookSecretCipher } from './webhook-secret-cipher.js';
import { signWebhook, WEBHOOK_HEADERS } from './webhook-signature.js';
import { postWebhook, WebhookTransportError } from './webhook-transport.js';

const MAX_RESPONSE_CHARS = 2048;
/** Event commits may come hundreds a second; for them the outbox is looked at no more often than this. */
const EVENT_WAKE_SPACING_MS = 20;
/** How often finished deliveries past BATON_WEBHOOK_RETENTION_DAYS are deleted, and how many per statement. */
const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const PURGE_BATCH = 1000;
const USER_AGENT = 'Baton-Webhooks/0.1';

/** An A2A push notification's body (null: the event means nothing to an A2A client). */
function a2aPushBody(delivery: ClaimedDelivery): string | null {
  const a2a = delivery.a2a as NonNullable<ClaimedDelivery['a2a']>;
  const event = delivery.event;
  const index = new Map(event.stepKey ? [[event.stepKey, a2a.stepIndex]] : []);
  return pushNotificationBody(
    { id: event.id, type: event.type, stepKey: event.stepKey, payload: (event.payload ?? {}) as JsonValue, createdAt: new Date(event.createdAt).toISOString() },
    { taskId: event.runId, contextId: a2a.target.contextId },
    { index, count: a2a.stepCount },
  );
}

/** The POSTed body: the event as the log holds it. */
export function webhookBody(event: ClaimedDelivery['event']): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    runId: event.runId,
    seq: event.seq,
    stepKey: event.stepKey,
    payload: event.payload,
    createdAt: event.createdAt instanceof Date ? event.createdAt.toISOString() : String(event.createdAt),
  });
}

/**
 * How long a claimed delivery is ours: the attempt's timeout plus a margin for signing and recording it (the timeout,
 * at least 5 s, at most 30 s), so a live attempt is never claimed twice, while a killed worker's in-flight deliveries
 * are taken over soon after their attempt could have ended (a fixed 30 s margin kept them waiting whatever the settings).
 */
export function webhookLeaseMs(timeoutMs: number): number {
  return timeoutMs + Math.min(30_000, Math.max(5_000, timeoutMs));
}

@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly wake = new WakeSignal();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly policy: WebhookRetryPolicy;
  private readonly lifecycle = new BackgroundLoops([this.wake]);
  private spacing: NodeJS.Timeout | null = null;
  private nudged = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: DeliveryOutboxRepository,
    private readonly cipher: WebhookSecretCipher,
    private readonly listener: PgListener,
    private readonly pushTargets: A2aPushTargetsRepository,
    @Optional() private readonly metrics?: BatonMetrics,
  ) {
    this.policy = {
      maxAttempts: config.webhookMaxAttempts,
      initialDelayMs: config.webhookRetryDelayMs,
      maxDelayMs: config.webhookMaxRetryDelayMs,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role !== 'api') await this.start();
  }

  get isRunning(): boolean {
    return this.lifecycle.running;
  }

  async start(): Promise<void> {
    if (!this.lifecycle.begin()) return;
    this.lifecycle.onStop(await this.listener.listen(WEBHOOKS_CHANNEL, () => this.wake.fire()));
    this.lifecycle.onStop(await this.listener.listen(EVENTS_CHANNEL, () => this.nudge()));
    this.lifecycle.onStop(() => {
      if (this.spacing) clearTimeout(this.spacing);
    });
    this.lifecycle.spawn(() => this.run());
    this.lifecycle.every(PURGE_INTERVAL_MS, () => this.purge());
    void this.purge();
  }

  /**
   * Deletes finished deliveries older than the retention, in batches; every delivery worker does it (deleting
   * twice is harmless). Returns how many were deleted.
   */
  async purge(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const n = await this.outbox.purgeFinished(this.config.webhookRetentionDays, PURGE_BATCH);
        total += n;
        if (n < PURGE_BATCH || !this.lifecycle.running) break;
      }
      if (total > 0) this.logger.log(`deleted ${total} finished webhook deliveries older than ${this.config.webhookRetentionDays} days`);
    } catch (error) {
      if (this.lifecycle.running) this.logger.warn(`purging old webhook deliveries failed: ${(error as Error).message}`);
    }
    return total;
  }

  /** Wakes the loop for committed events, at most once per spacing; a nudge inside the spacing wakes it at its end. */
  private nudge(): void {
    if (this.spacing) {
      this.nudged = true;
      return;
    }
    this.wake.fire();
    this.spacing = setTimeout(() => {
      this.spacing = null;
      if (!this.nudged) return;
      this.nudged = false;
      this.nudge();
    }, EVENT_WAKE_SPACING_MS);
    this.spacing.unref();
  }

  private async run(): Promise<void> {
    const leaseMs = webhookLeaseMs(this.config.webhookTimeoutMs);
    while (this.lifecycle.running) {
      const free = this.config.webhookConcurrency - this.inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await this.outbox.claimDue(free, leaseMs);
        } catch (error) {
          if (this.lifecycle.running) this.logger.warn(`claiming webhook deliveries failed: ${(error as Error).message}`);
        }
      }
      for (const delivery of claimed) {
        const task = this.deliver(delivery).finally(() => {
          this.inFlight.delete(task);
          this.wake.fire();
        });
        this.inFlight.add(task);
      }
      // A full batch means more may be due: claim again at once; otherwise sleep until a wake-up or the poll.
      if (free > 0 && claimed.length === free) continue;
      await this.wake.wait(this.config.pollIntervalMs);
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const outcome = await this.attempt(delivery);
    const next = this.nextStep(delivery, outcome);
    try {
      const applied = await this.outbox.record(delivery.id, delivery.attempt, outcome, next);
      // Counted once recorded: an attempt whose lease was taken over is another instance's to count.
      if (applied) this.metrics?.webhookAttempt(next.status === 'pending' ? 'failed' : next.status);
      if (!applied)
        this.logger.warn(
          `delivery ${delivery.id} attempt ${delivery.attempt} finished after its lease was taken over; outcome logged only`,
        );
      else if (next.status === 'dead')
        this.logger.warn(`delivery ${delivery.id} of event ${delivery.event.id} is dead after ${delivery.attempt} attempts`);
    } catch (error) {
      // The lease expires and another attempt follows: at least once still holds.
      this.logger.warn(`recording delivery ${delivery.id} failed: ${(error as Error).message}`);
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    let secret: string;
    try {
      secret = this.cipher.decrypt(delivery.secretEncrypted);
    } catch {
      return {
        statusCode: null,
        error: 'the signing secret cannot be decrypted (was BATON_WEBHOOK_SECRET_KEY or JWT_SECRET changed?)',
        responseBody: null,
        durationMs: 0,
      };
    }
    let body = webhookBody(delivery.event);
    let extraHeaders: Record<string, string> = {};
    if (delivery.a2a) {
      // An A2A push target: the body is the protocol's StreamResponse, authenticated as the task's config says.
      const a2aBody = a2aPushBody(delivery);
      if (a2aBody === null) return { statusCode: null, error: null, responseBody: 'nothing to notify for this event', durationMs: 0 };
      body = a2aBody;
      const authorization = this.pushTargets.authorization(delivery.a2a.authEncrypted);
      extraHeaders = {
        'Content-Type': 'application/a2a+json',
        ...(authorization ? { Authorization: authorization } : {}),
        ...(delivery.a2a.target.hasToken ? { 'X-A2A-Notification-Token': secret } : {}),
      };
    }
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const answer = await postWebhook({
        url: delivery.url,
        headers: {
          'Content-Type': 'application/json',
          ...extraHeaders,
          'User-Agent': USER_AGENT,
          [WEBHOOK_HEADERS.event]: delivery.event.type,
          [WEBHOOK_HEADERS.eventId]: delivery.event.id,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signWebhook(secret, timestamp, body),
        },
        body,
        timeoutMs: this.config.webhookTimeoutMs,
        allowPrivateNetworks: this.config.webhookAllowPrivateNetworks,
        maxResponseChars: MAX_RESPONSE_CHARS,
      });
      const ok = answer.status >= 200 && answer.status < 300;
      return {
        statusCode: answer.status,
        error: ok ? null : `receiver answered ${answer.status}`,
        responseBody: answer.body,
        durationMs: elapsed(),
      };
    } catch (error) {
      // "connect ECONNREFUSED 127.0.0.1:9", "socket hang up (ECONNRESET)", "timed out", "webhook receiver refused: ..."
      const { message, code } = error instanceof WebhookTransportError ? error : { message: String(error), code: '' };
      return {
        statusCode: null,
        error: message.includes(code) || code === 'ETIMEDOUT' ? message : `${message} (${code})`,
        responseBody: null,
        durationMs: elapsed(),
      };
    }
  }

  private nextStep(delivery: ClaimedDelivery, outcome: AttemptOutcome): NextStep {
    if (outcome.error === null) return { status: 'delivered' };
    const failures = delivery.attempt - delivery.attemptBase;
    if (failures >= this.policy.maxAttempts) return { status: 'dead' };
    return { status: 'pending', delayMs: webhookRetryDelayMs(this.policy, failures) };
  }

  async beforeApplicationShutdown(): Promise<void> {
    // In-flight attempts end within the timeout; their outcomes are recorded before the pool closes.
    if (await this.lifecycle.stop()) await Promise.allSettled([...this.inFlight]);
  }
}
