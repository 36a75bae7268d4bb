/**
 * A real SSE client for tests: the `eventsource` package (WHATWG EventSource for Node) with a bearer token, an
 * optional first Last-Event-ID, and a record of every message it received. EventSource reconnects by itself and
 * sends Last-Event-ID then, exactly as a browser would.
 */
import { EventSource } from 'eventsource';
import { EVENT_TYPES } from '#events';

export interface SseMessage {
  id: string;
  type: string;
  data: { id: string; runId: string; seq: number; type: string; stepKey: string | null; payload: unknown; createdAt: string };
}

export interface SseSubscriber {
  readonly source: EventSource;
  readonly messages: SseMessage[];
  /** Times the connection opened (1 + reconnections). */
  readonly opens: number;
  /** Resolves once `predicate` holds for the messages so far; rejects after timeoutMs. */
  waitFor(predicate: (messages: SseMessage[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Resolves when the EventSource gave up for good (e.g. the server answered 204 after the run's last event). */
  waitClosed(timeoutMs?: number): Promise<void>;
  close(): void;
}

export interface SseOptions {
  lastEventId?: string;
  /** Extra listeners for event names beyond EVENT_TYPES. */
  eventNames?: string[];
}

export function openSse(url: string, token: string, options: SseOptions = {}): SseSubscriber {
  const messages: SseMessage[] = [];
  let opens = 0;
  const source = new EventSource(url, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: {
          ...(options.lastEventId ? { 'Last-Event-ID': options.lastEventId } : {}),
          ...init.headers, // the library's own Last-Event-ID (after a reconnect) wins over the first one
          Authorization: `Bearer ${token}`,
        },
      }),
  });
  source.addEventListener('open', () => opens++);
  for (const name of [...EVENT_TYPES, ...(options.eventNames ?? [])]) {
    source.addEventListener(name, (event: MessageEvent) => {
      messages.push({ id: event.lastEventId, type: event.type, data: JSON.parse(String(event.data)) as SseMessage['data'] });
    });
  }

  const poll = async (done: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`SSE: timed out waiting for ${what}; got ${messages.length} messages: ${messages.map((m) => m.type).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  return {
    source,
    messages,
    get opens() {
      return opens;
    },
    waitFor: (predicate, timeoutMs = 20_000, what = 'messages') => poll(() => predicate(messages), timeoutMs, what),
    waitClosed: (timeoutMs = 20_000) => poll(() => source.readyState === source.CLOSED, timeoutMs, 'the stream to close'),
    close: () => source.close(),
  };
}
