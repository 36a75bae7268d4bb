/**
 * One Server-Sent Events response. Keeps these promises:
 * - nothing a client does slows anyone else: events are queued here and written only while the socket accepts
 *   them (`write()` returning false pauses until 'drain'); the queue is bounded, and a client whose queue overflows
 *   is disconnected: it reconnects with Last-Event-ID and replays from the log instead of from our memory;
 * - every message carries `id:` = the event id and `event:` = the event type; the data is the event as
 *   GET /orchestrations/runs/:id/events returns it (one JSON line);
 * - a `: ping` comment every heartbeat interval keeps idle connections open through proxies.
 */
import type { ServerResponse } from 'node:http';
import type { EventRecord, EventSink, StreamSubscription } from '#events';
import { toEventDto } from '../runs/run.dto.js';

export interface SseOptions {
  maxQueue: number;
  heartbeatMs: number;
  /** Reconnection delay suggested to EventSource clients (the `retry:` field). */
  retryMs?: number;
}

// The same event goes to every subscriber of a run: serialize it once.
const frames = new WeakMap<EventRecord, string>();

export function sseFrame(event: EventRecord): string {
  let frame = frames.get(event);
  if (frame === undefined) {
    frame = `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(toEventDto(event))}\n\n`;
    frames.set(event, frame);
  }
  return frame;
}

export type SseCloseReason = 'client' | 'ended' | 'overflow' | 'failed' | 'shutdown';

export class SseConnection implements EventSink {
  private readonly queue: string[] = [];
  private subscription: StreamSubscription | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private started = false;
  private ending = false;
  private waitingForDrain = false;
  private closedWith: SseCloseReason | null = null;
  private readonly closeListeners: ((reason: SseCloseReason) => void)[] = [];

  constructor(
    private readonly response: ServerResponse,
    private readonly options: SseOptions,
  ) {
    response.on('close', () => this.closed('client'));
  }

  get isClosed(): boolean {
    return this.closedWith !== null;
  }

  get queued(): number {
    return this.queue.length;
  }

  onClose(listener: (reason: SseCloseReason) => void): void {
    this.closeListeners.push(listener);
  }

  /** Ties the stream subscription to this connection: closing one closes the other. */
  attach(subscription: StreamSubscription): void {
    this.subscription = subscription;
    if (this.closedWith) subscription.close();
  }

  /** Sends the headers and whatever was queued while the subscription was being opened. */
  start(): void {
    if (this.started || this.closedWith) return;
    this.started = true;
    const res = this.response;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no', // nginx: do not buffer the stream
    });
    res.socket?.setNoDelay(true);
    res.socket?.setKeepAlive(true);
    res.flushHeaders();
    res.write(`retry: ${this.options.retryMs ?? 2000}\n\n`);
    this.heartbeat = setInterval(() => {
      if (!this.waitingForDrain && !this.closedWith) res.write(': ping\n\n');
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
    this.pump();
  }

  send(event: EventRecord): void {
    if (this.closedWith || this.ending) return;
    if (this.queue.length >= this.options.maxQueue) {
      // Too far behind: holding more would let one client grow our memory without bound.
      this.close('overflow');
      return;
    }
    this.queue.push(sseFrame(event));
    this.pump();
  }

  end(): void {
    if (this.closedWith) return;
    this.ending = true;
    this.pump();
  }

  fail(): void {
    this.close('failed');
  }

  /** Forgets the response without touching it (the stream never opened: an error answer goes out instead). */
  discard(): void {
    this.closed('failed');
  }

  /** Ends the response now (queued events are dropped; the client resumes with Last-Event-ID). */
  close(reason: SseCloseReason): void {
    if (this.closedWith) return;
    if (reason === 'overflow' || reason === 'failed') this.response.destroy();
    else this.response.end();
    this.closed(reason);
  }

  private pump(): void {
    if (!this.started || this.waitingForDrain || this.closedWith) return;
    while (this.queue.length > 0) {
      const chunk = this.queue.length === 1 ? (this.queue.pop() as string) : this.queue.splice(0, this.queue.length).join('');
      if (!this.response.write(chunk)) {
        this.waitingForDrain = true;
        this.response.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.ending) this.close('ended');
  }

  private closed(reason: SseCloseReason): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.queue.length = 0;
    this.subscription?.close();
    for (const listener of this.closeListeners) listener(reason);
  }
}
