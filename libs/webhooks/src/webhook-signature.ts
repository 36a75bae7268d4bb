/**
 * The signature scheme (also documented for receivers in docs/webhooks.md):
 * `X-Orchestration-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, where timestamp is the
 * `X-Orchestration-Timestamp` header (Unix seconds). Signing the timestamp with the body lets a receiver reject
 * replays of an old request without trusting an unsigned header.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_HEADERS = {
  event: 'X-Orchestration-Event',
  eventId: 'X-Orchestration-Event-Id',
  timestamp: 'X-Orchestration-Timestamp',
  signature: 'X-Orchestration-Signature',
} as const;

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface VerifyOptions {
  /** Oldest acceptable age of the timestamp, in seconds (default 300). */
  toleranceSeconds?: number;
  now?: number;
}

/** What a receiver does: constant-time signature check, then a bounded timestamp (replay window). */
export function verifyWebhook(
  secret: string,
  headers: { timestamp?: string; signature?: string },
  body: string,
  options: VerifyOptions = {},
): boolean {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  return Math.abs(now - Number(timestamp)) <= (options.toleranceSeconds ?? 300);
}
