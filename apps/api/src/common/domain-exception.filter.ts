import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, DomainErrorCode } from '#core';
import { isDatabaseBusy, isDatabaseUnavailable } from '#persistence';
import type { ErrorResponseDto } from './error-response.dto.js';

/** Exhaustive: a new domain error code that is not mapped here fails to compile. */
const STATUS_BY_CODE: Record<DomainErrorCode, HttpStatus> = {
  [DomainErrorCode.NotFound]: HttpStatus.NOT_FOUND,
  [DomainErrorCode.Conflict]: HttpStatus.CONFLICT,
  [DomainErrorCode.ValidationFailed]: HttpStatus.BAD_REQUEST,
  [DomainErrorCode.InvalidState]: HttpStatus.CONFLICT,
  [DomainErrorCode.Unauthenticated]: HttpStatus.UNAUTHORIZED,
  [DomainErrorCode.Forbidden]: HttpStatus.FORBIDDEN,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export const DATABASE_UNAVAILABLE = 'The database is unavailable; retry later';
export const DATABASE_BUSY = 'The database could not complete the request now (busy or out of space); retry later';
export const DATABASE_RETRY_AFTER_S = 5;

export function errorBody(statusCode: number, message: string, details?: unknown): ErrorResponseDto {
  return { statusCode, error: REASON[statusCode] ?? 'Error', message, ...(details === undefined ? {} : { details }) };
}

/** Turns every error into `{ statusCode, error, message, details? }`; unknown errors are logged and hidden. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = errorBodyOf(exception, this.logger);
    if (response.headersSent) {
      response.end();
      return;
    }
    if (body.statusCode === 503 && !response.getHeader('Retry-After')) response.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_S));
    response.status(body.statusCode).json(body);
  }
}

/** The error body for any exception (REST and the stream socket alike); unknown errors are logged and hidden. */
export function errorBodyOf(exception: unknown, logger: Logger): ErrorResponseDto {
  if (exception instanceof DomainError) return errorBody(STATUS_BY_CODE[exception.code], exception.message, exception.details);
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'string') return errorBody(status, response);
    const r = response as { message?: unknown; details?: unknown };
    const message = Array.isArray(r.message) ? r.message.join('; ') : String(r.message ?? exception.message);
    return errorBody(status, message, r.details);
  }
  const status = (exception as { status?: unknown; statusCode?: unknown }).status ?? (exception as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser and friends: malformed JSON, payload too large, unsupported charset
    return errorBody(status, (exception as Error).message);
  }
  if (isDatabaseUnavailable(exception)) {
    // Not a bug: the database is down, restarting or full of connections. Say so, and when to come back.
    logger.warn(`database unavailable: ${(exception as Error).message}`);
    return errorBody(503, DATABASE_UNAVAILABLE);
  }
  if (isDatabaseBusy(exception)) {
    // A statement timeout or a full disk: nothing was committed (the engine already retried); the operator must look.
    logger.warn(`database busy: ${(exception as Error).message}`);
    return errorBody(503, DATABASE_BUSY);
  }
  logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return errorBody(500, 'Internal server error');
}
