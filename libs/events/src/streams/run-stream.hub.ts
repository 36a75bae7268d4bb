/**
 * Live run streams, shared per run. Invariant: a subscriber receives the run's events exactly in `seq` order,
 * each once, starting right after the position it asked for.
 *
 * One feed per streamed run and process: the process-wide EventTail only WAKES the feed (its order is commit-safe
 * across the log, not `seq` order within a run); the feed then reads `seq > min(subscribers' last seq)` from the
 * database once and offers the rows to every subscriber, which takes those past its own last seq. Because a run's
 * events are a gap-free `seq` prefix at any moment, a subscriber can neither miss nor repeat an event, whether it
 * joined with a replay from the start or from a Last-Event-ID, and 500 subscribers of one run cost one query per
 * wake-up, not 500.
 */
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { CoalescingDrain, DomainError } from '#core';
import { toEventRecord, type EventRecord } from '../event-record.js';
import { EventTail } from '../event-tail.js';
import { TERMINAL_RUN_EVENTS, type EventType } from '../event-types.js';
import type { EventSink, StreamSubscription } from './event-sink.js';
import { EventStreamRepository, type RunPosition } from './event-stream.repository.js';
import { matchesFilter, type EventTypeFilter } from './event-type-filter.js';

const READ_BATCH = 500;
const RETRY_AFTER_ERROR_MS = 1000;

export interface RunSubscriberOptions {
  runId: string;
  /** Seq of the last event the client already has (0: from the start). */
  afterSeq: number;
  /** Type of that event (null at the start): a client resuming right after the terminal event is already done. */
  afterType: string | null;
  filter: EventTypeFilter;
  sink: EventSink;
}

const isTerminal = (type: string | null) => type !== null && TERMINAL_RUN_EVENTS.includes(type as EventType);

class RunSubscriber implements StreamSubscription {
  closed = false;

  constructor(
    private readonly feed: RunFeed,
    public lastSeq: number,
    private lastType: string | null,
    private readonly filter: EventTypeFilter,
    private readonly sink: EventSink,
  ) {}

  /** `rows` are contiguous from some seq <= lastSeq + 1; `caughtUp` when the read found nothing more. */
  offer(rows: readonly EventRecord[], caughtUp: boolean): void {
    if (this.closed) return;
    for (const event of rows) {
      if (event.seq <= this.lastSeq) continue;
      if (event.seq !== this.lastSeq + 1) return; // cannot happen with a seq prefix; never send past a hole
      this.lastSeq = event.seq;
      this.lastType = event.type;
      if (matchesFilter(this.filter, event.type)) this.sink.send(event);
      if (this.closed) return; // the sink gave up on this client while we were sending
    }
    // The run stream ends after the run's terminal event, once nothing follows it (a failed run can be revived).
    if (caughtUp && isTerminal(this.lastType)) {
      this.close();
      this.sink.end();
    }
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.close();
    this.sink.fail(error);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.feed.remove(this);
  }
}

class RunFeed {
  readonly subscribers = new Set<RunSubscriber>();
  private readonly drainer = new CoalescingDrain(() => this.drain());
  private retryTimer: NodeJS.Timeout | null = null;
  /** Consecutive failed reads; the subscribers are failed (they reconnect) after a few. */
  private failures = 0;

  constructor(
    readonly runId: string,
    private readonly repository: EventStreamRepository,
    private readonly onEmpty: (feed: RunFeed) => void,
    private readonly logger: Logger,
  ) {}

  remove(subscriber: RunSubscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.onEmpty(this);
    }
  }

  wake(): void {
    this.drainer.wake();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.subscribers.size === 0) return;
      let from = Infinity;
      for (const s of this.subscribers) from = Math.min(from, s.lastSeq);
      let rows: EventRecord[];
      try {
        rows = (await this.repository.runEventsAfter(this.runId, from, READ_BATCH)).map(toEventRecord);
      } catch (error) {
        // A transient database error: retry on a timer (the next wake-up may be far away); give up after a few.
        if (++this.failures >= 5) {
          for (const s of [...this.subscribers]) s.fail(error as Error);
          return;
        }
        this.logger.warn(`reading run ${this.runId} events failed: ${(error as Error).message}`);
        this.retryTimer = setTimeout(() => this.wake(), RETRY_AFTER_ERROR_MS);
        this.retryTimer.unref();
        return;
      }
      this.failures = 0;
      const caughtUp = rows.length < READ_BATCH;
      for (const s of [...this.subscribers]) s.offer(rows, caughtUp);
      if (caughtUp) return;
    }
  }
}

@Injectable()
export class RunStreamHub implements OnApplicationShutdown {
  private readonly logger = new Logger(RunStreamHub.name);
  private readonly feeds = new Map<string, RunFeed>();
  private tailSubscription: Subscription | null = null;
  private attaching: Promise<void> | null = null;

  constructor(
    private readonly tail: EventTail,
    private readonly repository: EventStreamRepository,
  ) {}

  /**
   * Opens a run stream for a client of `organizationId` that already has the events up to `lastEventId` (null: none).
   * Resolves to null when there is nothing left to send: the run finished and the client has its terminal event
   * (an SSE endpoint answers 204 so EventSource clients stop reconnecting).
   */
  async open(
    organizationId: string,
    runId: string,
    lastEventId: string | null,
    filter: EventTypeFilter,
    sink: EventSink,
  ): Promise<StreamSubscription | null> {
    const run = await this.repository.findRun(organizationId, runId);
    if (!run) throw DomainError.notFound('Run', runId);
    let position: RunPosition = { seq: 0, type: null };
    if (lastEventId !== null) {
      const found = await this.repository.positionOf(runId, lastEventId);
      if (!found)
        throw DomainError.validation(`Last-Event-ID ${lastEventId} is not an event of run ${runId}`, [
          { path: '$.lastEventId', message: 'unknown event id for this run' },
        ]);
      position = found;
    }
    if (position.seq >= run.lastSeq && isTerminal(position.type)) return null;
    return this.subscribe({ runId, afterSeq: position.seq, afterType: position.type, filter, sink });
  }

  /** Subscribes from `afterSeq`: replays what is already in the log, then follows the run live. */
  async subscribe(options: RunSubscriberOptions): Promise<StreamSubscription> {
    await this.attachToTail();
    let feed = this.feeds.get(options.runId);
    if (!feed) {
      feed = new RunFeed(options.runId, this.repository, (f) => this.feeds.get(f.runId) === f && this.feeds.delete(f.runId), this.logger);
      this.feeds.set(options.runId, feed);
    }
    const subscriber = new RunSubscriber(feed, options.afterSeq, options.afterType, options.filter, options.sink);
    feed.subscribers.add(subscriber);
    feed.wake();
    return subscriber;
  }

  /** Streamed runs and their subscribers in this process (metrics, tests). */
  stats(): { runs: number; subscribers: number } {
    let subscribers = 0;
    for (const feed of this.feeds.values()) subscribers += feed.subscribers.size;
    return { runs: this.feeds.size, subscribers };
  }

  private attachToTail(): Promise<void> {
    this.attaching ??= (async () => {
      await this.tail.start();
      this.tailSubscription = this.tail.events$.subscribe((batch) => {
        let woken: Set<string> | null = null;
        for (const event of batch) {
          if (!this.feeds.has(event.runId) || woken?.has(event.runId)) continue;
          (woken ??= new Set()).add(event.runId);
          this.feeds.get(event.runId)?.wake();
        }
      });
    })().catch((error: unknown) => {
      this.attaching = null;
      throw error;
    });
    return this.attaching;
  }

  onApplicationShutdown(): void {
    this.tailSubscription?.unsubscribe();
  }
}
