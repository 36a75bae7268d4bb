import type { IncomingMessage } from 'node:http';
import type { LogContextFields } from '../request-context.js';

/**
 * Fields of a request learned after the logger saw it (organization once authenticated, run id and step key of
 * the route), kept per request object so the one line pino-http writes when the response finishes carries them.
 */
const fields = new WeakMap<IncomingMessage, LogContextFields>();

export const HttpLogFields = {
  set(request: IncomingMessage, values: LogContextFields): void {
    fields.set(request, { ...fields.get(request), ...values });
  },
  get(request: IncomingMessage): LogContextFields {
    return fields.get(request) ?? {};
  },
};
