import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { RequestContext, resolveRequestId } from '#observability';

/**
 * Gives every request an id (or keeps a sane incoming X-Request-Id), echoes it, and runs the request inside its
 * RequestContext. The one log line per request is pino-http's (ObservabilityModule), with the same id.
 */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(request: Request, response: Response, next: NextFunction): void {
    const requestId = resolveRequestId(request, response);
    RequestContext.run({ requestId }, () => next());
  }
}
