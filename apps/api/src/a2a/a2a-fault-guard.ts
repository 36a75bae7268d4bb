/**
 * The SDK's transports turn every error into a JSON-RPC answer, -32603 "internal error" for what they do not know,
 * with the error's own message. Between them and our handler sits this guard, one per request, so that -32603 keeps
 * meaning a bug of ours, and says nothing of it:
 *
 * - the database unavailable or busy (isDatabaseUnavailable, isDatabaseBusy): remembered, so the endpoint answers
 *   HTTP 503 with Retry-After like every other route (a stream already under way gets a JSON-RPC error event);
 * - a value PostgreSQL refused (SQLSTATE class 22) that our checks let through: the caller's -32602;
 * - a domain error no method translated: translated as fromDomainError does;
 * - anything else the handler throws: logged, and replaced by an error that says only "Internal error".
 *
 * A -32603 answer that did not come from the handler comes from the SDK reading the params into its request types
 * (a 0.3 `tasks/pushNotificationConfig/set` without a config, say): the request's fault, answered -32602.
 */
import type { Logger } from '@nestjs/common';
import { A2A_ERROR_CODE, A2AError, JsonRpcRequestMalformedError } from '@a2a-js/sdk/errors';
import { DomainError } from '#core';
import { isDatabaseBusy, isDatabaseUnavailable, isDataException } from '#persistence';
import { DATABASE_UNAVAILABLE } from '../common/domain-exception.filter.js';
import { fromDomainError } from './a2a-errors.js';

/** What the SDK makes of an error it does not know: -32603 with this message. */
class InternalA2aError extends Error {
  constructor() {
    super('Internal error');
  }
}

export class A2aFaultGuard {
  /** The database failed this request: the endpoint answers 503. */
  unavailable = false;
  /** The handler was called (so a -32603 without `internal` came from reading the params). */
  private entered = false;
  private internal = false;

  constructor(private readonly logger: Logger) {}

  /** `handler` with each method's failures classified (promises and async generators alike). */
  wrap<T extends object>(handler: T): T {
    return new Proxy(handler, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || property === 'getAgentCard') return value;
        return (...args: unknown[]) => {
          this.entered = true;
          try {
            const result: unknown = value.apply(target, args);
            if (isAsyncGenerator(result)) return this.guardStream(result);
            return result instanceof Promise ? result.catch((error: unknown) => this.classify(error)) : result;
          } catch (error) {
            return this.classify(error);
          }
        };
      },
    });
  }

  /** The JSON-RPC error to answer for a -32603 the transport made, or the error as it is. */
  answerFor(error: { code: number; message: string }): { code: number; message: string } {
    if (error.code !== A2A_ERROR_CODE.INTERNAL_ERROR || this.internal) return error;
    if (this.unavailable) return { code: A2A_ERROR_CODE.INTERNAL_ERROR, message: DATABASE_UNAVAILABLE }; // a stream under way
    if (!this.entered)
      return { code: A2A_ERROR_CODE.INVALID_PARAMS, message: `Invalid params: not the method's request shape (${error.message})` };
    // the handler answered, and turning its answer into JSON failed: ours
    this.logger.error(`A2A answer could not be serialized: ${error.message}`);
    return { code: A2A_ERROR_CODE.INTERNAL_ERROR, message: 'Internal error' };
  }

  private async *guardStream(stream: AsyncGenerator<unknown, unknown, unknown>): AsyncGenerator<unknown, unknown, unknown> {
    try {
      return yield* stream;
    } catch (error) {
      return this.classify(error);
    }
  }

  private classify(error: unknown): never {
    if (error instanceof InternalA2aError) throw error;
    if (isDatabaseUnavailable(error) || isDatabaseBusy(error)) {
      this.unavailable = true;
      this.logger.warn(`database unavailable or busy: ${(error as Error).message}`);
      throw error;
    }
    if (isDataException(error))
      throw new JsonRpcRequestMalformedError({ message: 'Invalid params: a value is malformed, out of range or too long' });
    if (error instanceof A2AError) throw error; // the protocol's errors (ours are the SDK's classes too)
    if (error instanceof DomainError) fromDomainError(error);
    this.internal = true;
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    throw new InternalA2aError();
  }
}

function isAsyncGenerator(value: unknown): value is AsyncGenerator<unknown, unknown, unknown> {
  return (
    typeof (value as AsyncGenerator | null)?.[Symbol.asyncIterator] === 'function' && typeof (value as AsyncGenerator).next === 'function'
  );
}
