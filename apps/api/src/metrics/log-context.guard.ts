import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import type { Principal } from '#identity';
import { HttpLogFields, RequestContext, type LogContextFields } from '#observability';

/**
 * Once the guard has authenticated a request, names its organization, and the run / step its route is about, on
 * every log line of the request (RequestContext) and on the request's own line (HttpLogFields). Interceptors run
 * after guards, which is when the organization is known.
 */
@Injectable()
export class LogContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const fields: LogContextFields = {};
    if (request.principal) fields.organizationId = request.principal.organizationId;
    const route = typeof request.route?.path === 'string' ? request.route.path : '';
    const params = request.params ?? {};
    if (route.includes('runs/:id') && typeof params.id === 'string') fields.runId = params.id;
    if (route.includes('steps/:key') && typeof params.key === 'string') fields.stepKey = params.key;
    HttpLogFields.set(request, fields);
    RequestContext.annotate(fields);
    return next.handle();
  }
}
