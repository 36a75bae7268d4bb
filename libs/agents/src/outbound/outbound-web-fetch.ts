/**
 * A WHATWG `fetch` with the outbound address policy of outboundFetch, for client libraries that take a fetch
 * implementation (the A2A SDK's `fetchImpl`): node:http(s) underneath so the connection's address is vetted (global
 * fetch has no lookup hook on Node 20), redirects never followed, the body streamed (server-sent events) with a size
 * bound, and the exchange bounded by `timeoutMs` as well as by the caller's signal.
 */
import { startOutboundSpan, tracedCall } from './outbound-span.js';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform } from 'node:stream';
import { createGuardedLookup, nonPublicHost } from '#net';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_OUTBOUND_TIMEOUT_MS,
  OUTBOUND_ABORTED,
  OUTBOUND_ADDRESS_REFUSED,
  OUTBOUND_TIMEOUT,
  OUTBOUND_TOO_LARGE,
  OutboundHttpError,
  outboundRefusal,
  type OutboundPolicy,
} from './outbound-http.js';

const guardedLookup = createGuardedLookup((_host, reason) => ({ message: outboundRefusal(reason), code: OUTBOUND_ADDRESS_REFUSED }));
const NO_BODY_STATUSES = new Set([101, 204, 205, 304]);

export interface OutboundWebFetchOptions {
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export function createOutboundWebFetch(policy: OutboundPolicy, options: OutboundWebFetchOptions = {}): typeof fetch {
  const timeoutMs = options.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return async function outboundWebFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundHttpError(`only http and https URLs are allowed, not ${url.protocol}`, 'EINVALIDURL');
    const refused = policy.allowPrivateNetworks ? null : nonPublicHost(url.hostname);
    if (refused) throw new OutboundHttpError(outboundRefusal(refused), OUTBOUND_ADDRESS_REFUSED);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    if (body) headers['content-length'] = String(body.length);
    const signal = request.signal;
    if (signal.aborted) throw new OutboundHttpError('aborted', OUTBOUND_ABORTED);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    // Ends when the answer's headers arrive (a streamed body is the caller's to read).
    const span = startOutboundSpan(request.method, url, headers);

    return tracedCall(span, new Promise<Response>((resolve, reject) => {
      let response: IncomingMessage | null = null;
      const stop = (error: OutboundHttpError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (response) response.destroy(error);
        req.destroy(error);
        reject(error);
      };
      const timer = setTimeout(() => stop(new OutboundHttpError(`no complete answer within ${timeoutMs} ms`, OUTBOUND_TIMEOUT)), timeoutMs);
      const onAbort = () => stop(new OutboundHttpError('aborted', OUTBOUND_ABORTED));
      signal.addEventListener('abort', onAbort, { once: true });
      const req = send(url, { method: request.method, headers, lookup: policy.allowPrivateNetworks ? undefined : guardedLookup }, (res) => {
        response = res;
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        };
        res.on('end', done);
        res.on('close', done);
        let size = 0;
        const bounded = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            size += chunk.length;
            if (size > maxBytes) return callback(new OutboundHttpError(`the answer is larger than ${maxBytes} bytes`, OUTBOUND_TOO_LARGE));
            callback(null, chunk);
          },
        });
        res.on('error', (error) => bounded.destroy(error));
        const status = res.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
        const stream = NO_BODY_STATUSES.has(status) ? null : (Readable.toWeb(res.pipe(bounded)) as ReadableStream<Uint8Array>);
        if (!stream) res.resume();
        resolve(new Response(stream, { status, statusText: res.statusMessage, headers: responseHeaders }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (response) return;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof OutboundHttpError ? error : new OutboundHttpError(error.message, error.code ?? 'EREQUEST'));
      });
      req.end(body);
    }));
  };
}
