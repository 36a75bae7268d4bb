import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Principal } from '#identity';
import { HttpLogFields, RequestContext, type LogContextFields } from '#observability';

/**
 * Once AuthGuard has authenticated a request, names its organization, and the run / step its route is about, on
 * every log line of the request (RequestContext) and on the request's own line (HttpLogFields). A global guard
 * registered after AuthGuard (it never refuses), rather than an interceptor: a route with no interceptor is called
 * without the RxJS pipeline Nest builds around interceptors on every request.
 */
@Injectable()
export class LogContextGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const fields: LogContextFields = {};
    if (request.principal) fields.organizationId = request.principal.organizationId;
    const route = typeof request.route?.path === 'string' ? request.route.path : '';
    const params = request.params ?? {};
    if (route.includes('runs/:id') && typeof params.id === 'string') fields.runId = params.id;
    if (route.includes('steps/:key') && typeof params.key === 'string') fields.stepKey = params.key;
    HttpLogFields.set(request, fields);
    RequestContext.annotate(fields);
    return true;
  }
}
