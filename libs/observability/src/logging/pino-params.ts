import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream, type Level } from 'pino';
import pretty from 'pino-pretty';
import type { AppConfig, LogLevel } from '#config';
import { RequestContext } from '../request-context.js';
import { HttpLogFields } from './http-log-fields.js';
import { redactPaths, redactUrl, secretScrubber, REDACTED } from './log-redaction.js';
import { resolveRequestId } from './request-id.js';

/** LOG_LEVEL speaks Nest's names; pino's are one step apart (`log` is info, `verbose` is trace). */
export const PINO_LEVEL: Record<LogLevel, Level> = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

export interface LoggingOptions {
  /** Where lines go (tests capture them); default stdout, through pino-pretty when LOG_FORMAT=pretty. */
  destination?: DestinationStream;
  /** Secret values to scrub besides the sensitive configuration variables (tests). */
  secrets?: string[];
}

/** Paths whose requests are too frequent and too dull to log one line each at info. */
const QUIET_PATHS = new Set(['/health', '/ready', '/metrics']);

function pathOf(url: string | undefined): string {
  return (url ?? '').split('?')[0];
}

/**
 * nestjs-pino parameters: one JSON line per request (method, path, status, duration, request id, organization,
 * run id / step key when the route names them), context fields on every application log line (RequestContext),
 * and the secrets of log-redaction.ts removed by configuration.
 */
export function pinoParams(config: AppConfig, sensitive: string[], options: LoggingOptions = {}): Params {
  const scrub = secretScrubber([...sensitive, ...(options.secrets ?? [])]);
  const destination = options.destination ?? (config.logFormat === 'pretty' ? pretty({ sync: true, colorize: process.stdout.isTTY, singleLine: true }) : pino.destination({ sync: false }));
  const threshold = pino.levels.values[PINO_LEVEL[config.logLevel]];
  // A request line below LOG_LEVEL is 'silent' to pino-http, which then skips the child logger it would build for it
  // (bindings serialized and redacted: ~0.05 ms a request) only for the line to be dropped.
  const enabled = (level: Level): Level | 'silent' => (pino.levels.values[level] >= threshold ? level : 'silent');
  return {
    pinoHttp: [
      {
        level: PINO_LEVEL[config.logLevel],
        base: { pid: process.pid, role: config.role },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        redact: { paths: redactPaths(), censor: REDACTED },
        hooks: { streamWrite: scrub },
        mixin: () => RequestContext.logFields(),
        genReqId: (request: IncomingMessage, response: ServerResponse) => resolveRequestId(request, response),
        customAttributeKeys: { reqId: 'requestId', responseTime: 'ms' },
        // The mixin adds what the request's context already holds; repeat none of it. No fields: no bindings at all
        // (pino-http would otherwise build a child logger with nothing in it, as it does for every request it sees).
        customProps: (request: IncomingMessage) => {
          const inContext = RequestContext.logFields();
          const fields = Object.entries(HttpLogFields.get(request)).filter(([key]) => !(key in inContext));
          return (fields.length > 0 ? Object.fromEntries(fields) : undefined) as object;
        },
        customLogLevel: (request: IncomingMessage, response: ServerResponse, error?: Error) => {
          if (error || response.statusCode >= 500) return enabled('error');
          if (response.statusCode >= 400) return enabled('warn');
          return enabled(QUIET_PATHS.has(pathOf(request.url)) ? 'debug' : 'info');
        },
        customSuccessMessage: (request: IncomingMessage, response: ServerResponse) => `${request.method} ${pathOf(request.url)} ${response.statusCode}`,
        customErrorMessage: (request: IncomingMessage, response: ServerResponse) => `${request.method} ${pathOf(request.url)} ${response.statusCode}`,
        serializers: {
          // Only what an operator needs; headers are left out altogether (the redact paths cover them if a
          // caller logs them anyway), the query string is kept with credential parameters censored.
          req: (request: { method?: string; url?: string; headers?: Record<string, unknown> }) => ({
            method: request.method,
            url: redactUrl(request.url ?? ''),
            userAgent: request.headers?.['user-agent'],
          }),
          res: (response: { statusCode?: number }) => ({ statusCode: response.statusCode }),
        },
      },
      destination,
    ],
  };
}
