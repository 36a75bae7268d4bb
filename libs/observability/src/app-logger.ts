import { ConsoleLogger, type LogLevel as NestLogLevel } from '@nestjs/common';
import { sensitiveValues, type LogLevel } from '#config';
import { RequestContext } from './request-context.js';

const LEVELS: NestLogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Structured JSON logs (Nest's own JSON mode) with the request id of the current request and with the
 * values of sensitive configuration variables scrubbed from every message.
 */
export class AppLogger extends ConsoleLogger {
  private readonly secrets: string[];

  constructor(level: LogLevel, secrets: string[] = sensitiveValues()) {
    super({ json: true, logLevels: LEVELS.slice(0, LEVELS.indexOf(level) + 1) });
    this.secrets = secrets;
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: NestLogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    const requestId = RequestContext.requestId();
    const scrubbed = messages.map((m) => this.scrub(m));
    const withContext = requestId ? scrubbed.map((m) => (typeof m === 'object' && m !== null ? { requestId, ...m } : { requestId, message: m })) : scrubbed;
    super.printMessages(withContext, context, logLevel, writeStreamType, errorStack);
  }

  scrub(value: unknown): unknown {
    if (this.secrets.length === 0) return value;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text === undefined) return value;
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[REDACTED]');
    if (out === text) return value;
    return typeof value === 'string' ? out : (JSON.parse(out) as unknown);
  }
}
