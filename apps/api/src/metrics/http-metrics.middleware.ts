import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { BatonMetrics } from '#observability';

/**
 * Counts and times every HTTP request by its route template (`/orchestrations/runs/:id`), read when the response
 * finishes, so ids never become label values; requests that matched no route are `(unmatched)`.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: BatonMetrics) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    response.on('finish', () => {
      const path = typeof request.route?.path === 'string' ? `${request.baseUrl ?? ''}${request.route.path}` : '(unmatched)';
      this.metrics.httpRequest(request.method, path, response.statusCode, Number(process.hrtime.bigint() - started) / 1e6);
    });
    next();
  }
}
