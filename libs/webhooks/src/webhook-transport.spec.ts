import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postWebhook, type WebhookPost } from './webhook-transport.js';

/** Against a real receiver on 127.0.0.1: what reaches it, and what the policy keeps from reaching it. */
describe('postWebhook', () => {
  let server: Server;
  let port: number;
  const received: { path: string; body: string; headers: IncomingMessage['headers'] }[] = [];
  let respond: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok');

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body, headers: req.headers });
        respond(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    received.length = 0;
    respond = (_req, res) => res.end('ok');
  });

  const post = (overrides: Partial<WebhookPost> = {}) =>
    postWebhook({
      url: `http://127.0.0.1:${port}/hook`,
      headers: { 'Content-Type': 'application/json', 'X-Test': 'yes' },
      body: '{"id":"1"}',
      timeoutMs: 2000,
      allowPrivateNetworks: true,
      maxResponseChars: 2048,
      ...overrides,
    });

  it('POSTs the body and headers and returns the answer', async () => {
    await expect(post()).resolves.toEqual({ status: 200, body: 'ok' });
    expect(received).toEqual([
      { path: '/hook', body: '{"id":"1"}', headers: expect.objectContaining({ 'x-test': 'yes', 'content-length': '10' }) },
    ]);
  });

  it('refuses a loopback receiver when private networks are not allowed, by IP literal and by name, sending nothing', async () => {
    await expect(post({ allowPrivateNetworks: false })).rejects.toMatchObject({
      code: 'EWEBHOOKADDRESS',
      message: expect.stringMatching(/127\.0\.0\.1 is not a public address/),
    });
    await expect(post({ allowPrivateNetworks: false, url: `http://localhost:${port}/hook` })).rejects.toMatchObject({
      code: 'EWEBHOOKADDRESS',
    });
    await expect(post({ allowPrivateNetworks: false, url: `http://[::ffff:127.0.0.1]:${port}/hook` })).rejects.toMatchObject({
      code: 'EWEBHOOKADDRESS',
    });
    expect(received).toEqual([]);
  });

  it('does not follow redirects: the 3xx is the answer', async () => {
    respond = (_req, res) => {
      res.writeHead(302, { Location: `http://127.0.0.1:${port}/elsewhere` });
      res.end();
    };
    await expect(post()).resolves.toMatchObject({ status: 302 });
    expect(received.map((r) => r.path)).toEqual(['/hook']);
  });

  it('keeps at most maxResponseChars of the answer', async () => {
    respond = (_req, res) => res.end('x'.repeat(100_000));
    await expect(post({ maxResponseChars: 50 })).resolves.toEqual({ status: 200, body: 'x'.repeat(50) });
  });

  it('gives up on a receiver that does not answer in time', async () => {
    respond = () => undefined; // never answers
    await expect(post({ timeoutMs: 200 })).rejects.toMatchObject({ code: 'ETIMEDOUT', message: 'timed out' });
  });

  it('reports a refused connection with the socket error', async () => {
    await expect(post({ url: 'http://127.0.0.1:9/hook' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
