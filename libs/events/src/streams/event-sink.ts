import type { EventRecord } from '../event-record.js';

/**
 * Where a stream subscription delivers events (an SSE connection, a WebSocket, a test). The sink owns its buffer:
 * `send` never blocks the caller, and a sink that falls too far behind closes itself and calls the subscription's
 * `close()`; its client resumes later from the last event id it received.
 */
export interface EventSink {
  send(event: EventRecord): void;
  /** Nothing more will come (the run finished). */
  end(): void;
  /** The subscription cannot go on (its replay buffer overflowed, the database failed). */
  fail(error: Error): void;
}

/** A live subscription; `close()` is idempotent. */
export interface StreamSubscription {
  close(): void;
}
