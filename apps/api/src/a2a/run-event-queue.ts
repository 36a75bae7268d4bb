/**
 * A run's logged events as an async iterable, fed by RunStreamHub (replay from the log by seq, then live: the hub
 * reads PostgreSQL, so any API instance serves any task, before or after a restart). Bounded: a consumer that falls
 * this far behind is failed, and its stream ends with an error instead of growing our memory.
 */
import type { EventRecord, EventSink, StreamSubscription } from '#events';

const MAX_QUEUED = 10_000;

export class RunEventQueue implements EventSink, AsyncIterable<EventRecord> {
  private readonly queue: EventRecord[] = [];
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;
  subscription: StreamSubscription | null = null;

  send(event: EventRecord): void {
    if (this.ended) return;
    if (this.queue.length >= MAX_QUEUED) return this.fail(new Error('event stream consumer too slow'));
    this.queue.push(event);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(error: Error): void {
    this.error = error;
    this.ended = true;
    this.notify();
  }

  close(): void {
    this.ended = true;
    this.subscription?.close();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<EventRecord, void, undefined> {
    try {
      for (;;) {
        const event = this.queue.shift();
        if (event) {
          yield event;
          continue;
        }
        if (this.error) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.close();
    }
  }
}
