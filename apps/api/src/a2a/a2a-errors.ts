/**
 * The A2A errors our handler raises, as the SDK's JSON-RPC error classes (so both wire mappings, 1.0 and 0.3, write
 * the right code), and the translation of our domain errors into them.
 */
import {
  JsonRpcRequestMalformedError,
  JsonRpcTaskNotCancelableError,
  JsonRpcTaskNotFoundError,
  JsonRpcTransportError,
  JsonRpcUnsupportedOperationError,
} from '@a2a-js/sdk/errors';
import { DomainError, DomainErrorCode, type ProblemDetail } from '#core';

/** JSON-RPC code for a caller whose role may not do this (A2A leaves authorization codes to the implementation). */
export const A2A_FORBIDDEN_CODE = -32040;
/** JSON-RPC code for the organization's run creation rate limit (shared with POST /orchestrations/runs). */
export const A2A_RATE_LIMITED_CODE = -32029;

/** -32602 naming the parameter and what is expected of it. */
export function invalidParams(field: string, expected: string): Error {
  return new JsonRpcRequestMalformedError({ message: `Invalid params: ${field}: ${expected}`, metadata: { field, expected } });
}

export function taskNotFound(taskId: string): Error {
  return new JsonRpcTaskNotFoundError({ message: `Task ${taskId} not found`, metadata: { taskId } });
}

export function taskNotCancelable(taskId: string, state: string): Error {
  return new JsonRpcTaskNotCancelableError({
    message: `Task ${taskId} is ${state} and can no longer be canceled`,
    metadata: { taskId, state },
  });
}

export function unsupported(message: string): Error {
  return new JsonRpcUnsupportedOperationError({ message });
}

export function forbidden(message: string): Error {
  return new JsonRpcTransportError({ jsonrpc: '2.0', id: null, error: { code: A2A_FORBIDDEN_CODE, message } });
}

export function rateLimited(retryAfterSeconds: number): Error {
  return new JsonRpcTransportError({
    jsonrpc: '2.0',
    id: null,
    error: {
      code: A2A_RATE_LIMITED_CODE,
      message: `Run creation rate limit reached for your organization; retry in ${retryAfterSeconds} s`,
    },
  });
}

function problemsText(details: unknown): string {
  if (!Array.isArray(details)) return '';
  return (details as ProblemDetail[]).map((p) => `${p.path} ${p.message}`).join('; ');
}

/** A domain error from a service, as the A2A error a client can act on; anything else is rethrown (-32603). */
export function fromDomainError(error: unknown, field = 'params'): never {
  if (!(error instanceof DomainError)) throw error;
  switch (error.code) {
    case DomainErrorCode.ValidationFailed:
    case DomainErrorCode.Conflict:
    case DomainErrorCode.InvalidState: {
      const detail = problemsText(error.details);
      throw invalidParams(field, detail ? `${error.message} (${detail})` : error.message);
    }
    case DomainErrorCode.Forbidden:
    case DomainErrorCode.Unauthenticated:
      throw forbidden(error.message);
    case DomainErrorCode.NotFound:
      throw invalidParams(field, error.message);
  }
}
