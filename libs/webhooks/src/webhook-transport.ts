/**
 * One webhook POST, over node:http(s) so the connection's address can be vetted:
 * - unless private networks are allowed, the receiver address policy holds for the address actually connected to
 *   (IP literals are judged directly; names are resolved once by guardedLookup, which refuses non-public answers);
 * - redirects are never followed (a 3xx is an answer, so a failed attempt: following it would send the event
 *   somewhere the admin did not choose);
 * - the whole attempt, connect to last byte read, is bounded by `timeoutMs`; at most `maxResponseChars` of the
 *   answer are kept and the rest is not read.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { nonPublicHost } from '#net';
import { guardedLookup, WEBHOOK_ADDRESS_REFUSED, webhookRefusal } from './webhook-address-policy.js';

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  maxResponseChars: number;
}

export interface WebhookAnswer {
  status: number;
  body: string;
}

/** A failure before an answer: `code` is the socket's (ECONNREFUSED, ...), ETIMEDOUT, or EWEBHOOKADDRESS. */
export class WebhookTransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export function postWebhook(post: WebhookPost): Promise<WebhookAnswer> {
  const url = new URL(post.url);
  const refused = post.allowPrivateNetworks ? null : nonPublicHost(url.hostname);
  if (refused)
    return Promise.reject(
      new WebhookTransportError(webhookRefusal(refused), WEBHOOK_ADDRESS_REFUSED),
    );
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...post.headers, 'Content-Length': String(Buffer.byteLength(post.body)) },
        lookup: post.allowPrivateNetworks ? undefined : guardedLookup,
      },
      (res: IncomingMessage) => {
        let text = '';
        const done = () => settle(() => resolve({ status: res.statusCode ?? 0, body: text.slice(0, post.maxResponseChars) }));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.length >= post.maxResponseChars) {
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', done); // the status is known; a body cut short is still an answer
      },
    );
    const timer = setTimeout(() => req.destroy(new WebhookTransportError('timed out', 'ETIMEDOUT')), post.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle(() =>
        reject(error instanceof WebhookTransportError ? error : new WebhookTransportError(error.message, error.code ?? 'EREQUEST')),
      ),
    );
    req.end(post.body);
  });
}
