/**
 * Agents' outbound HTTP (api runner, LLM calls, A2A, the function sandbox's fetch), over node:http(s) so the
 * connection's address can be vetted with the same policy as webhook deliveries (#net):
 * - unless `allowPrivateNetworks` (BATON_AGENT_ALLOW_PRIVATE_NETWORKS), IP literals and localhost are refused before
 *   connecting and host names are resolved once by a guarded lookup that refuses non-public answers (no DNS rebinding);
 * - redirects are never followed: a 3xx is returned as the answer (following it could lead to an address the
 *   policy never saw);
 * - the whole exchange, connect to last byte, is bounded by `timeoutMs`, and an answer longer than
 *   `maxResponseBytes` fails (a truncated JSON answer would be misread, so it is not silently cut).
 */
import { startOutboundSpan, tracedCall } from './outbound-span.js';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createGuardedLookup, nonPublicHost } from '#net';

export interface OutboundInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface OutboundPolicy {
  allowPrivateNetworks: boolean;
}

export interface OutboundResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const OUTBOUND_ADDRESS_REFUSED = 'EAGENTADDRESS';
export const OUTBOUND_TIMEOUT = 'ETIMEDOUT';
export const OUTBOUND_ABORTED = 'EABORTED';
export const OUTBOUND_TOO_LARGE = 'ERESPONSETOOLARGE';

export const DEFAULT_OUTBOUND_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/** A failure before a full answer: `code` is the socket's (ECONNREFUSED, ...) or one of the OUTBOUND_* codes. */
export class OutboundHttpError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'OutboundHttpError';
  }
}

export function outboundRefusal(reason: string): string {
  return `outbound request refused: ${reason} (BATON_AGENT_ALLOW_PRIVATE_NETWORKS is off)`;
}

const guardedLookup = createGuardedLookup((_host, reason) => ({ message: outboundRefusal(reason), code: OUTBOUND_ADDRESS_REFUSED }));

/** One request, answered in full. */
export function outboundFetch(url: string, init: OutboundInit, policy: OutboundPolicy): Promise<OutboundResponse> {
  return outboundStream(url, init, policy);
}

/**
 * One request whose body is also handed to `onChunk` as it arrives (server-sent events of a streaming LLM or A2A
 * answer); the promise settles with the whole answer as outboundFetch does.
 */
export function outboundStream(
  url: string,
  init: OutboundInit,
  policy: OutboundPolicy,
  onChunk?: (text: string, status: number) => void,
): Promise<OutboundResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new OutboundHttpError(`not a URL: ${url}`, 'EINVALIDURL'));
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    return Promise.reject(new OutboundHttpError(`only http and https URLs are allowed, not ${target.protocol}`, 'EINVALIDURL'));
  const refused = policy.allowPrivateNetworks ? null : nonPublicHost(target.hostname);
  if (refused) return Promise.reject(new OutboundHttpError(outboundRefusal(refused), OUTBOUND_ADDRESS_REFUSED));
  if (init.signal?.aborted) return Promise.reject(new OutboundHttpError('aborted', OUTBOUND_ABORTED));
  const timeoutMs = init.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  const maxBytes = init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
  const method = init.method ?? 'GET';
  const span = startOutboundSpan(method, target, headers);

  const answer = new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      init.signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const fail = (error: OutboundHttpError) => {
      settle(() => reject(error));
      req.destroy();
    };
    const req = send(
      target,
      { method, headers, lookup: policy.allowPrivateNetworks ? undefined : guardedLookup },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const decoder = new TextDecoder();
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            res.destroy();
            return fail(new OutboundHttpError(`the answer is larger than ${maxBytes} bytes`, OUTBOUND_TOO_LARGE));
          }
          chunks.push(chunk);
          if (onChunk) onChunk(decoder.decode(chunk, { stream: true }), status);
        });
        res.on('end', () =>
          settle(() => resolve({ status, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') })),
        );
        res.on('error', (error: NodeJS.ErrnoException) => fail(new OutboundHttpError(error.message, error.code ?? 'ERESPONSE')));
      },
    );
    const timer = setTimeout(() => fail(new OutboundHttpError(`no complete answer within ${timeoutMs} ms`, OUTBOUND_TIMEOUT)), timeoutMs);
    const onAbort = () => fail(new OutboundHttpError('aborted', OUTBOUND_ABORTED));
    init.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle(() => reject(error instanceof OutboundHttpError ? error : new OutboundHttpError(error.message, error.code ?? 'EREQUEST'))),
    );
    req.end(init.body);
  });
  return tracedCall(span, answer);
}

function flatHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}
