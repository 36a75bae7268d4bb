/**
 * How the CLI fails: one error type carrying the exit code, so scripts can tell a bad invocation from an
 * invalid file from a database they cannot reach.
 */
export const ExitCode = {
  Ok: 0,
  /** The command ran and failed: invalid file, validation error, conflict, refused operation. */
  Failure: 1,
  /** Bad arguments: unknown command or option, missing or invalid value. */
  Usage: 2,
  /** The database could not be reached (or the embedded one could not start). */
  DatabaseUnreachable: 3,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.Failure,
    /** Extra lines printed after the message (problems, hints). */
    readonly lines: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);

/** True for network failures and for PostgreSQL's connection, authentication and unknown-database errors. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, errors, cause } = error as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || /^(08|28)/.test(code) || code === '3D000' || code === '57P03'))
    return true;
  // The server's Unix socket is missing (a DATABASE_URL with a socket directory as host): the server is not running.
  if (code === 'ENOENT' && /\.s\.PGSQL\.\d+/.test(String((error as { message?: unknown }).message ?? ''))) return true;
  if (Array.isArray(errors) && errors.some(isConnectionError)) return true;
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

export function errorReason(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : String(error);
}
