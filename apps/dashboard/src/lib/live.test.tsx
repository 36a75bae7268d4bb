import { cleanup, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api/client';
import type { BatonEvent } from '../api/types';
import { useEventStream } from './live';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const sse = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const event = { id: String(i + 1), runId: 'r1', seq: i + 1, type: 'step.progress', stepKey: 'a', payload: {}, createdAt: new Date(0).toISOString() };
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
});
