/**
 * Organization-wide streams. Invariant: a subscriber receives its organization's events in the EventTail's
 * commit-safe (tx_id, id) order, each once, with none missing after the position it resumed from.
 *
 * Live events come from the process-wide EventTail. A resume (Last-Event-ID) subscribes to the tail FIRST and holds
 * its events back, replays the log after the event's (tx_id, id) from the database until a read comes back short,
 * then releases the held events, dropping any at or before the last one sent. The replay reads everything below
 * the database's commit horizon, which includes everything the tail had already published before we subscribed,
 * so the two overlap and never leave a hole.
 */
import { Injectable } from '@nestjs/common';
import { DomainError } from '#core';
import { toEventRecord, type EventRecord } from '../event-record.js';
import { EventTail } from '../event-tail.js';
import { EventTailRepository, type TailCursor } from '../event-tail.repository.js';
import type { EventSink, StreamSubscription } from './event-sink.js';
import { EventStreamRepository } from './event-stream.repository.js';
import { matchesFilter, type EventTypeFilter } from './event-type-filter.js';

const REPLAY_BATCH = 500;
/** The first page of a replay is small, so a client resuming far back gets its first events without waiting for 500. */
const FIRST_REPLAY_BATCH = 100;

export interface OrganizationSubscriberOptions {
  organizationId: string;
  /** Resume right after this event (must be an event of the organization). */
  lastEventId: string | null;
  filter: EventTypeFilter;
  sink: EventSink;
  /** Live events held back while replaying; more means the client is too far behind (it is dropped). */
  maxHeld: number;
}

/** (tx_id, id) ordering of two positions of the log. */
export function comparePositions(a: TailCursor, b: TailCursor): number {
  const tx = BigInt(a.txId) - BigInt(b.txId);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const id = BigInt(a.id) - BigInt(b.id);
  return id === 0n ? 0 : id < 0n ? -1 : 1;
}

@Injectable()
export class OrganizationStreamService {
  constructor(
    private readonly tail: EventTail,
    private readonly tailRepository: EventTailRepository,
    private readonly repository: EventStreamRepository,
  ) {}

  async subscribe(options: OrganizationSubscriberOptions): Promise<StreamSubscription> {
    const { organizationId, filter, sink } = options;
    let cursor: TailCursor | null = null;
    if (options.lastEventId !== null) {
      cursor = await this.repository.cursorOf(organizationId, options.lastEventId);
      if (!cursor)
        throw DomainError.validation(`Last-Event-ID ${options.lastEventId} is not an event of your organization`, [
          { path: '$.lastEventId', message: 'unknown event id' },
        ]);
    }
    await this.tail.start();

    let closed = false;
    let last: TailCursor | null = cursor;
    let held: EventRecord[] | null = cursor ? [] : null;
    const deliver = (event: EventRecord) => {
      const position = { txId: event.txId ?? '0', id: event.id };
      if (last && comparePositions(position, last) <= 0) return;
      last = position;
      if (matchesFilter(filter, event.type)) sink.send(event);
    };
    const subscription = {
      close(): void {
        closed = true;
        live.unsubscribe();
      },
    };
    const live = this.tail.events$.subscribe({
      next: (batch) => {
        for (const event of batch) {
          if (closed) return;
          if (event.organizationId !== organizationId) continue;
          if (held === null) {
            deliver(event);
          } else if (held.push(event) > options.maxHeld) {
            subscription.close();
            sink.fail(new Error('too many live events while replaying'));
          }
        }
      },
      complete: () => {
        if (!closed) sink.end();
      },
    });

    if (cursor) {
      void this.replay(organizationId, cursor, deliver, () => closed)
        .then(() => {
          const pending = held ?? [];
          held = null;
          for (const event of pending) if (!closed) deliver(event);
        })
        .catch((error: unknown) => {
          if (closed) return;
          subscription.close();
          sink.fail(error as Error);
        });
    }
    return subscription;
  }

  private async replay(
    organizationId: string,
    from: TailCursor,
    deliver: (event: EventRecord) => void,
    isClosed: () => boolean,
  ): Promise<void> {
    let cursor = from;
    for (let limit = FIRST_REPLAY_BATCH; ; limit = REPLAY_BATCH) {
      const { rows } = await this.tailRepository.read(cursor, limit, organizationId);
      for (const row of rows) {
        if (isClosed()) return;
        deliver(toEventRecord(row));
      }
      if (rows.length < limit) return;
      const lastRow = rows[rows.length - 1];
      cursor = { txId: lastRow.tx_id, id: String(lastRow.id) };
    }
  }
}
