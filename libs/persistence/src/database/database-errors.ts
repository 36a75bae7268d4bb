/**
 * What a database error means for the caller, by SQLSTATE (and, for connection failures, the driver's messages):
 *
 * - unavailable: the database is not there right now (refused, reset, shutting down, too many connections, a
 *   connection that could not be opened in time). The API answers 503 with Retry-After; a starting process retries.
 * - busy: it is there but could not do this now: a statement cancelled by `statement_timeout` (57014) or
 *   `lock_timeout` (55P03), a disk (53100), memory (53200) or other resource (53000) exhausted. The transaction was
 *   rolled back whole, so doing it again is safe: the engine retries with backoff, the API answers 503 with Retry-After.
 * - a data exception (class 22): PostgreSQL refused a value (not a UUID, out of range, too long). A bad input that
 *   a check let through, not a fault of the database.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** SQLSTATE class 08 (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300 (too many connections). */
const UNAVAILABLE_SQLSTATES = /^(08\d{3}|57P0[123]|53300)$/;
const MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /terminating connection due to administrator command/i,
  /Connection is not established/i,
  /Cannot use a pool after calling end/i,
  // A server reached through its Unix socket (DATABASE_URL with host=/var/run/postgresql, say) is down: the socket is gone.
  /connect ENOENT \S*\.s\.PGSQL\.\d+/,
];
/** 57014 query_canceled, 55P03 lock_not_available, 53000 insufficient_resources, 53100 disk_full, 53200 out_of_memory. */
const BUSY_SQLSTATES = new Set(['57014', '55P03', '53000', '53100', '53200']);
const DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Whether `error` or one of its causes passes `test`: TypeORM's QueryFailedError keeps pg's error in driverError, AggregateError (dual-stack connect) in errors. */
function anyCause(error: unknown, test: (e: ErrorLike) => boolean, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const e = error as ErrorLike;
  if (test(e)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => anyCause(inner, test, depth + 1))) return true;
  return anyCause(e.driverError, test, depth + 1) || anyCause(e.cause, test, depth + 1);
}

const codeIn = (e: ErrorLike, test: (code: string) => boolean): boolean => typeof e.code === 'string' && test(e.code);

export function isDatabaseUnavailable(error: unknown): boolean {
  return anyCause(
    error,
    (e) =>
      codeIn(e, (code) => NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.test(code)) ||
      (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))),
  );
}

export function isDatabaseBusy(error: unknown): boolean {
  return anyCause(error, (e) => codeIn(e, (code) => BUSY_SQLSTATES.has(code)));
}

export function isDataException(error: unknown): boolean {
  return anyCause(error, (e) => codeIn(e, (code) => DATA_EXCEPTION.test(code)));
}
