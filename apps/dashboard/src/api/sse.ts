import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { BatonEvent } from './types';

export interface StreamHandle {
  close(): void;
}

export interface StreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onEvent: (event: BatonEvent) => void;
  onState?: (state: 'connecting' | 'open' | 'retrying' | 'ended') => void;
  /** Delay before reconnecting after the stream dropped. */
  retryMs?: number;
  /** The event after which the server ends the stream (a run's terminal event): then it is not reopened. */
  isLast?: (event: BatonEvent) => boolean;
}

/**
 * Reads an SSE stream with fetch, because EventSource cannot send the Authorization header the API needs (and the
 * token must not go into a URL or a cookie). Reconnects with Last-Event-ID, so the server replays what was missed.
 */
export function openEventStream(options: StreamOptions): StreamHandle {
  let lastEventId: string | null = null;
  let closed = false;
  let controller: AbortController | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = async (): Promise<void> => {
    controller = new AbortController();
    options.onState?.('connecting');
    try {
      const response = await fetch(options.url, {
        headers: { Accept: 'text/event-stream', ...options.headers(), ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
        signal: controller.signal,
      });
      // 204: a run stream resumed after the run's terminal event; nothing more will come.
      if (response.status === 204) {
        options.onState?.('ended');
        return;
      }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      options.onState?.('open');
      const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value.id) lastEventId = value.id;
        let event: BatonEvent;
        try {
          event = JSON.parse(value.data) as BatonEvent;
        } catch {
          continue; // a message that is not an event (none are today): ignore it rather than drop the stream
        }
        options.onEvent(event);
        if (options.isLast?.(event)) {
          void reader.cancel().catch(() => undefined);
          options.onState?.('ended');
          return;
        }
      }
    } catch (error) {
      if (closed) return;
      void error;
    }
    if (closed) return;
    options.onState?.('retrying');
    timer = setTimeout(() => void connect(), options.retryMs ?? 2000);
  };

  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
