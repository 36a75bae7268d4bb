import { context, propagation, type Context } from '@opentelemetry/api';

/**
 * W3C trace context for outbound HTTP calls (api, a2a and context agents): adds `traceparent` (and `tracestate`)
 * of the active span to the given headers, so the callee's spans join the step's trace. A no-op while tracing is
 * off. Returns the same object for chaining: `fetch(url, { headers: withTraceHeaders({ ... }) })`.
 */
export function withTraceHeaders<T extends Record<string, string>>(headers: T, from: Context = context.active()): T {
  propagation.inject(from, headers);
  return headers;
}

/** The trace context carried by incoming headers (an HTTP request, an A2A call), to start spans under it. */
export function contextFromHeaders(headers: Record<string, string | string[] | undefined>, base: Context = context.active()): Context {
  return propagation.extract(base, headers, {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => {
      const value = carrier[key.toLowerCase()] ?? carrier[key];
      return Array.isArray(value) ? value[0] : value;
    },
  });
}
