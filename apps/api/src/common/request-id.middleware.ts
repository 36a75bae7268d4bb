import { Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { RequestContext } from '#observability';

/** Gives every request an id (or keeps a sane incoming X-Request-Id), echoes it, and logs one line per request. */
@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HTTP');

  use(request: Request, response: Response, next: NextFunction): void {
    const incoming = request.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    response.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    RequestContext.run({ requestId }, () => {
      response.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        RequestContext.run({ requestId }, () =>
          this.logger.log({ method: request.method, path: request.originalUrl.split('?')[0], status: response.statusCode, ms: Math.round(ms * 10) / 10 }),
        );
      });
      next();
    });
  }
}
