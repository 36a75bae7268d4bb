import { useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../api/client';
import { openEventStream } from '../api/sse';
import { TERMINAL_RUN, type BatonEvent } from '../api/types';
import { FrameBatcher } from './frame-batcher';

export type LiveState = 'connecting' | 'open' | 'retrying' | 'ended';

/**
 * Follows an event stream (the organization's, or one run's) while the component is mounted and hands the events
 * over in batches, one per animation frame. `lastEventId` resumes right after an event already loaded.
 */
export function useEventStream(
  api: ApiClient,
  target: { route: 'orgStream' } | { route: 'runStream'; runId: string; lastEventId: string | null } | null,
  onBatch: (events: BatonEvent[]) => void,
): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const handler = useRef(onBatch);
  handler.current = onBatch;
  const key = target ? (target.route === 'orgStream' ? 'org' : `run:${target.runId}`) : null;
  useEffect(() => {
    if (!target) return;
    const batcher = new FrameBatcher<BatonEvent>((events) => handler.current(events));
    const url =
      target.route === 'orgStream'
        ? api.url('orgStream', { types: 'run.*,step.*,checkpoint.*' })
        : api.url('runStream', { lastEventId: target.lastEventId ?? undefined }, { id: target.runId });
    // A run's stream ends after its terminal event: say so at once instead of reconnecting to hear it again.
    const isLast = target.route === 'runStream' ? (e: BatonEvent) => e.type.startsWith('run.') && TERMINAL_RUN.has(e.type.slice(4)) : undefined;
    const stream = openEventStream({ url, headers: () => api.authHeaders(), onEvent: (e) => batcher.push(e), onState: setState, isLast });
    return () => stream.close();
  }, [api, key]);
  return state;
}

export function LiveIndicator({ state }: { state: LiveState }) {
  const text = state === 'open' ? 'Live' : state === 'ended' ? 'Finished: no more events' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span className={`live live-${state}`} role="status">
      <span aria-hidden="true">{state === 'open' ? '●' : '○'}</span> {text}
    </span>
  );
}
