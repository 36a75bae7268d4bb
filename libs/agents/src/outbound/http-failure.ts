/**
 * How an HTTP peer's failure becomes an AgentError the engine can act on: 5xx, 429 and 408 are retryable (a
 * Retry-After header becomes the least delay before the retry), other 4xx are not (the same request would fail
 * again); transport errors are retryable except a refused address, an invalid URL and an abort.
 */
import { ABORTED_ERROR, AgentError, TIMEOUT_ERROR } from '../agent-error.js';
import { OUTBOUND_ABORTED, OUTBOUND_ADDRESS_REFUSED, OUTBOUND_TIMEOUT, OUTBOUND_TOO_LARGE, OutboundHttpError } from './outbound-http.js';

export const HTTP_ERROR = 'HTTP_ERROR';
export const HTTP_ADDRESS_REFUSED = 'ADDRESS_REFUSED';
export const HTTP_TRANSPORT_ERROR = 'HTTP_TRANSPORT_ERROR';

/** Longest Retry-After honoured: a peer cannot park a step for days. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

export function defaultRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}

export function httpStatusError(
  what: string,
  status: number,
  headers: Record<string, string>,
  detail: string,
  retryable: (status: number) => boolean = defaultRetryableStatus,
): AgentError {
  const canRetry = retryable(status);
  const message = `${what} answered HTTP ${status}${detail ? `: ${detail.slice(0, 300)}` : ''}`;
  return new AgentError(`${HTTP_ERROR}_${status}`, message, canRetry, canRetry ? retryAfterMs(headers['retry-after']) : undefined);
}

export function transportError(what: string, error: unknown): AgentError {
  if (error instanceof AgentError) return error;
  if (error instanceof OutboundHttpError) {
    if (error.code === OUTBOUND_ADDRESS_REFUSED) return new AgentError(HTTP_ADDRESS_REFUSED, error.message, false);
    if (error.code === OUTBOUND_ABORTED) return new AgentError(ABORTED_ERROR, 'aborted', false);
    if (error.code === OUTBOUND_TIMEOUT) return new AgentError(TIMEOUT_ERROR, `${what}: ${error.message}`, true);
    if (error.code === OUTBOUND_TOO_LARGE || error.code === 'EINVALIDURL')
      return new AgentError(HTTP_TRANSPORT_ERROR, `${what}: ${error.message}`, false);
    return new AgentError(HTTP_TRANSPORT_ERROR, `${what}: ${error.message} (${error.code})`, true);
  }
  return new AgentError(HTTP_TRANSPORT_ERROR, `${what}: ${error instanceof Error ? error.message : String(error)}`, true);
}
