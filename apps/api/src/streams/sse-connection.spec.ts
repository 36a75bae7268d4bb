/**
 * SseConnection over a real HTTP server and real sockets: the wire format, the heartbeat, and what happens to a
 * client that stops reading (its queue overflows, it is disconnected, and the sender never waits for it).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { EventRecord } from '#events';
import { SseConnection, type SseCloseReason } from './sse-connection.js';

const event = (seq: number, payload: EventRecord['payload'] = { n: seq }): EventRecord => ({
  id: String(1000 + seq),
  organizationId: '00000000-0000-4000-8000-000000000001',
  runId: '00000000-0000-4000-8000-000000000002',
  seq,
  type: seq === 1 ? 'run.created' : 'step.completed',
  stepKey: seq === 1 ? null : `s${seq}`,
  payload,
  createdAt: new Date(0).toISOString(),
});

describe('SseConnection', () => {
  let server: Server;
  let handle: (res: ServerResponse) => void;

  beforeEach(async () => {
    server = createServer((_req, res) => handle(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  it('writes id/event/data frames in order, holding events queued before start, then ends', async () => {
    handle = (res) => {
      const connection = new SseConnection(res, { maxQueue: 10, heartbeatMs: 60_000 });
      connection.send(event(1));
      connection.start();
      connection.send(event(2));
      connection.end();
    };
    const response = await fetch(url());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toContain('no-cache');
    const text = await response.text();
    const frames = text.split('\n\n').filter((f) => f.length > 0);
    expect(frames[0]).toBe('retry: 2000');
    expect(frames.slice(1).map((f) => f.split('\n'))).toEqual([
      [
        'id: 1001',
        'event: run.created',
        `data: ${JSON.stringify({ id: '1001', runId: event(1).runId, seq: 1, type: 'run.created', stepKey: null, payload: { n: 1 }, createdAt: event(1).createdAt })}`,
      ],
      ['id: 1002', 'event: step.completed', expect.stringMatching(/^data: \{"id":"1002",.*"seq":2,.*"stepKey":"s2"/)],
    ]);
  });

  it('sends a `: ping` comment every heartbeat interval', async () => {
    let connection: SseConnection | undefined;
    handle = (res) => {
      connection = new SseConnection(res, { maxQueue: 10, heartbeatMs: 50 });
      connection.start();
    };
    const controller = new AbortController();
    const response = await fetch(url(), { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while ((text.match(/: ping\n\n/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connection?.isClosed).toBe(true);
  });

  it('disconnects a client that stops reading once its queue overflows; sending never waits for it', async () => {
    let connection: SseConnection | undefined;
    let sent = 0;
    const reasons: SseCloseReason[] = [];
    const big = 'x'.repeat(16 * 1024);
    const overflowed = new Promise<void>((resolve) => {
      handle = (res) => {
        connection = new SseConnection(res, { maxQueue: 50, heartbeatMs: 60_000 });
        connection.onClose((reason) => {
          reasons.push(reason);
          resolve();
        });
        connection.start();
        // Pushes until the socket's buffers fill and the queue overflows; each send returns at once.
        const pushMore = () => {
          for (let i = 0; i < 200 && !connection?.isClosed; i++) connection?.send(event(++sent + 1, { big }));
          if (!connection?.isClosed && sent < 100_000) setImmediate(pushMore);
        };
        pushMore();
      };
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined); // the server resets the connection
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
    socket.pause(); // a client that never reads
    await overflowed;
    expect(reasons).toEqual(['overflow']);
    expect(connection?.queued).toBe(0); // its memory is released at once
    expect(sent).toBeLessThan(100_000);
    socket.destroy();
  });
});
