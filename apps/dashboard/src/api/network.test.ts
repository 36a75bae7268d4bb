// @vitest-environment node
import { describe, expect, it } from 'vitest';

/** Every source file of the app (tests aside), as text. */
const sources = import.meta.glob(['../**/*.{ts,tsx}', '!../**/*.test.{ts,tsx}'], { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

describe('the network', () => {
  it('is reached only by the API client (documented routes) and the SSE reader (URLs the client builds)', () => {
    const reaching = Object.entries(sources)
      .filter(([, text]) => /\bfetch\s*\(|XMLHttpRequest|new\s+EventSource|new\s+WebSocket|navigator\.sendBeacon/.test(text))
      .map(([path]) => path)
      .sort();
    expect(reaching).toEqual(['./client.ts', './sse.ts']);
    // The SSE reader takes its URL from its caller; the callers build it with ApiClient.url(route).
    const streamCallers = Object.entries(sources).filter(([path, text]) => path !== './sse.ts' && text.includes('openEventStream('));
    for (const [path, text] of streamCallers) expect(text, path).toMatch(/api\.url\('(orgStream|runStream)'/);
  });
});
