import { cleanup, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/client';
import type { BatonEvent } from '../api/types';
import { useEventStream, type LiveState } from './live';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const sse = (n: number, last = 'step.progress') =>
  Array.from({ length: n }, (_, i) => {
    const type = i === n - 1 ? last : 'step.progress';
    const event = { id: String(i + 1), runId: 'r1', seq: i + 1, type, stepKey: 'a', payload: {}, createdAt: new Date(0).toISOString() };
    return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  }).join('');

describe('useEventStream', () => {
  it('hands a burst of live events to the page once per animation frame', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(sse(300)));
      },
    });
    const fetchMock = vi.fn<(url: string) => Promise<unknown>>(async () => ({ status: 200, ok: true, body }));
    const frames: FrameRequestCallback[] = [];
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => frames.push(cb));
    const batches: BatonEvent[][] = [];
    function Probe() {
      useEventStream(new ApiClient(() => 'jwt'), { route: 'runStream', runId: 'r1', lastEventId: '0' }, (events) => batches.push(events));
      return null;
    }
    render(<Probe />);
    await vi.waitFor(() => expect(frames).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the reader has parsed the whole burst by now
    expect(frames).toHaveLength(1);
    expect(batches).toHaveLength(0);
    frames.shift()!(0);
    expect(batches.map((b) => b.length)).toEqual([300]);
    expect(fetchMock.mock.calls[0]![0]).toBe('/orchestrations/runs/r1/stream?lastEventId=0');
  });

  it("stops after a run's terminal event instead of reconnecting, and says the run is finished", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(sse(3, 'run.completed')));
        controller.close();
      },
    });
    const fetchMock = vi.fn(async () => ({ status: 200, ok: true, body }));
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => setTimeout(() => cb(0), 0));
    const states: LiveState[] = [];
    const api = new ApiClient(() => 'jwt'); // one client, as the app keeps it per session (a new one resubscribes)
    function Probe() {
      states.push(useEventStream(api, { route: 'runStream', runId: 'r1', lastEventId: null }, () => undefined));
      return null;
    }
    render(<Probe />);
    await vi.waitFor(() => expect(states.at(-1)).toBe('ended'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(states).not.toContain('retrying');
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});
