/**
 * The CLIENT span of one outbound agent call (api, a2a and context agents, function agents' fetches), whose W3C
 * trace context is added to the request headers (traceparent): the peer's spans join the step's trace. Only the
 * host is recorded: paths and queries of agent URLs may carry secrets. A no-op while tracing is off.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { withTraceHeaders } from '#observability';

export function startOutboundSpan(method: string, target: URL, headers: Record<string, string>): Span {
  const span = trace.getTracer('baton').startSpan(method, {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': method,
      'server.address': target.hostname,
      'server.port': Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
    },
  });
  withTraceHeaders(headers, trace.setSpan(context.active(), span));
  return span;
}

/** Ends the span with the answer's status, or the error's code as `error.type`. */
export function endOutboundSpan(span: Span, outcome: { status: number } | { error: { code?: string; message: string } }): void {
  if ('status' in outcome) {
    span.setAttribute('http.response.status_code', outcome.status);
    if (outcome.status >= 500) {
      span.setAttribute('error.type', String(outcome.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  } else {
    span.setAttribute('error.type', outcome.error.code || 'Error');
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
  }
  span.end();
}

/** Ends the span when the call settles. */
export function tracedCall<T extends { status: number }>(span: Span, call: Promise<T>): Promise<T> {
  return call.then(
    (response) => {
      endOutboundSpan(span, response);
      return response;
    },
    (error: { code?: string; message: string }) => {
      endOutboundSpan(span, { error });
      throw error;
    },
  );
}
