import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const HEADER = 'X-Request-Id';
const SANE = /^[\w.-]{1,100}$/;

/**
 * The id of one HTTP request: the one already given to this response (by whichever of the request-id middleware
 * and the pino-http logger ran first), else a sane incoming X-Request-Id, else a new UUID. Echoed in the response.
 */
export function resolveRequestId(request: IncomingMessage, response: ServerResponse): string {
  const given = response.getHeader(HEADER);
  if (typeof given === 'string' && given !== '') return given;
  const incoming = request.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && SANE.test(incoming) ? incoming : randomUUID();
  if (!response.headersSent) response.setHeader(HEADER, requestId);
  return requestId;
}
