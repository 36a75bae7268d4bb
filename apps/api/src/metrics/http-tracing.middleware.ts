import { Injectable, type NestMiddleware } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { contextFromHeaders, httpServerTracer, RequestContext } from '#observability';

/**
 * A SERVER span per HTTP request, continuing the caller's trace (W3C traceparent), named `{method} {route}` once
 * the route template is known. The rest of the request (and any run it starts synchronously) runs inside it, so
 * spans started by the code it calls are its children. A no-op span when tracing is off.
 */
@Injectable()
export class HttpTracingMiddleware implements NestMiddleware {
  use(request: Request, response: Response, next: NextFunction): void {
    const parent = contextFromHeaders(request.headers);
    const span = httpServerTracer().startSpan(
      request.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': request.path, 'url.scheme': request.protocol } },
      parent,
    );
    if (!span.isRecording()) {
      next();
      return;
    }
    response.on('finish', () => {
      const route = typeof request.route?.path === 'string' ? `${request.baseUrl ?? ''}${request.route.path}` : undefined;
      if (route) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', response.statusCode);
      const requestId = RequestContext.requestId() ?? response.getHeader('X-Request-Id');
      if (typeof requestId === 'string') span.setAttribute('baton.request_id', requestId);
      if (response.statusCode >= 500) {
        span.setAttribute('error.type', String(response.statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  }
}
