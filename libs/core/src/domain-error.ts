/**
 * Domain errors: the engine and the services throw these; only the HTTP edge (and the CLI) turn them
 * into responses. Adding a code forces a mapping in the exception filter (it is an exhaustive Record).
 */
export enum DomainErrorCode {
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  ValidationFailed = 'VALIDATION_FAILED',
  InvalidState = 'INVALID_STATE',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
}

export interface ProblemDetail {
  /** JSON path of the offending value, e.g. `$.steps[2].dependsOn[0]`. */
  path: string;
  message: string;
  code?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  static notFound(what: string, id: string): DomainError {
    return new DomainError(DomainErrorCode.NotFound, `${what} ${id} not found`);
  }

  static conflict(message: string, details?: unknown): DomainError {
    return new DomainError(DomainErrorCode.Conflict, message, details);
  }

  static validation(message: string, problems: ProblemDetail[]): DomainError {
    return new DomainError(DomainErrorCode.ValidationFailed, message, problems);
  }

  static invalidState(message: string, details?: unknown): DomainError {
    return new DomainError(DomainErrorCode.InvalidState, message, details);
  }
}
