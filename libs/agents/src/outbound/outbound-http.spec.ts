import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { outboundFetch, outboundStream, OUTBOUND_ADDRESS_REFUSED } from './outbound-http.js';

/** Against a real server on 127.0.0.1: what reaches it, what comes back, and what the policy keeps from leaving. */
describe('outboundFetch', () => {
  let server: Server;
  let base: string;
  const received: { method: string; path: string; body: string; headers: IncomingMessage['headers'] }[] = [];
  let respond: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ method: req.method ?? '', path: req.url ?? '', body, headers: req.headers });
        respond(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));

  beforeEach(() => {
    received.length = 0;
    respond = (_req, res) => res.writeHead(201, { 'Content-Type': 'application/json', 'X-Answer': 'yes' }).end('{"ok":true}');
  });

  const allow = { allowPrivateNetworks: true };

  it('sends method, headers and body and returns status, headers and body', async () => {
    const answer = await outboundFetch(`${base}/hook?x=1`, { method: 'POST', headers: { 'X-Test': 'a' }, body: '{"id":"1"}' }, allow);
    expect(answer).toEqual({ status: 201, headers: expect.objectContaining({ 'x-answer': 'yes' }), body: '{"ok":true}' });
    expect(received).toEqual([
      { method: 'POST', path: '/hook?x=1', body: '{"id":"1"}', headers: expect.objectContaining({ 'x-test': 'a', 'content-length': '10' }) },
    ]);
  });

  it('refuses loopback by IP literal, by name and IPv4-mapped when private networks are not allowed, sending nothing', async () => {
    const port = new URL(base).port;
    for (const url of [`${base}/x`, `http://localhost:${port}/x`, `http://[::ffff:127.0.0.1]:${port}/x`, 'http://169.254.169.254/latest'])
      await expect(outboundFetch(url, {}, { allowPrivateNetworks: false })).rejects.toMatchObject({
        code: OUTBOUND_ADDRESS_REFUSED,
        message: expect.stringMatching(/BATON_AGENT_ALLOW_PRIVATE_NETWORKS is off/),
      });
    expect(received).toEqual([]);
  });

  it('refuses other schemes', async () => {
    await expect(outboundFetch('file:///etc/passwd', {}, allow)).rejects.toMatchObject({ code: 'EINVALIDURL' });
  });

  it('does not follow redirects: the 3xx is the answer', async () => {
    respond = (_req, res) => res.writeHead(302, { Location: 'http://169.254.169.254/' }).end();
    await expect(outboundFetch(`${base}/r`, {}, allow)).resolves.toMatchObject({ status: 302, headers: { location: 'http://169.254.169.254/' } });
    expect(received).toHaveLength(1);
  });

  it('bounds the time of the whole exchange', async () => {
    respond = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    await expect(outboundFetch(`${base}/slow`, { timeoutMs: 200 }, allow)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('fails an answer larger than maxResponseBytes', async () => {
    respond = (_req, res) => res.end('x'.repeat(5000));
    await expect(outboundFetch(`${base}/big`, { maxResponseBytes: 1000 }, allow)).rejects.toMatchObject({ code: 'ERESPONSETOOLARGE' });
  });

  it('stops on abort', async () => {
    respond = () => undefined; // never answers
    const controller = new AbortController();
    const pending = outboundFetch(`${base}/hang`, { signal: controller.signal, timeoutMs: 5000 }, allow);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: 'EABORTED' });
  });

  it('hands a streamed body over chunk by chunk as it arrives', async () => {
    respond = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.end('data: two\n\n'), 30);
    };
    const chunks: string[] = [];
    const answer = await outboundStream(`${base}/sse`, {}, allow, (text) => chunks.push(text));
    expect(chunks).toEqual(['data: one\n\n', 'data: two\n\n']);
    expect(answer.body).toBe('data: one\n\ndata: two\n\n');
  });
});
