/**
 * The process-wide feed of new events from every instance: woken by NOTIFY on baton_events (or a poll),
 * it reads the log past its commit-safe cursor and publishes batches. Started on first subscription.
 */
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { CoalescingDrain } from '#core';
import { EVENTS_CHANNEL } from './channels.js';
import { toEventRecord, type EventRecord } from './event-record.js';
import { EventTailRepository, type TailCursor } from './event-tail.repository.js';
import { PgListener } from './pg-listener.js';

const BATCH = 1000;
const POLL_MS = 1000;

@Injectable()
export class EventTail implements OnApplicationShutdown {
  private readonly logger = new Logger(EventTail.name);
  private readonly subject = new Subject<EventRecord[]>();
  private cursor: TailCursor | null = null;
  private started: Promise<void> | null = null;
  private readonly drainer = new CoalescingDrain(() => this.drain());
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly repository: EventTailRepository,
    private readonly listener: PgListener,
  ) {}

  /** Batches of events committed after the tail started, in commit-safe order. */
  get events$(): Observable<EventRecord[]> {
    return this.subject.asObservable();
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      this.cursor = await this.repository.currentCursor();
      this.unlisten = await this.listener.listen(EVENTS_CHANNEL, () => this.wake());
      this.timer = setInterval(() => this.wake(), POLL_MS);
      this.timer.unref();
    })();
    return this.started;
  }

  wake(): void {
    if (this.stopped || !this.cursor) return;
    this.drainer.wake();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const { rows, withheld } = await this.repository.read(this.cursor as TailCursor, BATCH);
        if (rows.length > 0) {
          const last = rows[rows.length - 1];
          this.cursor = { txId: last.tx_id, id: String(last.id) };
          this.subject.next(rows.map(toEventRecord));
        }
        if (rows.length === BATCH) continue;
        if (withheld) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        return;
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn(`reading the event log failed: ${(error as Error).message}`);
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unlisten?.();
    this.subject.complete();
  }
}
