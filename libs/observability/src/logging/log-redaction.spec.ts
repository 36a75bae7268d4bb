import pino from 'pino';
import { loadConfig } from '#config';
import { pinoParams } from './pino-params.js';
import { redactUrl, secretScrubber } from './log-redaction.js';
import { RequestContext } from '../request-context.js';

/** A pino logger configured exactly as the app's, writing into an array. */
function capture(secrets: string[]): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const params = pinoParams(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'verbose' }), secrets, { destination: { write: (l: string) => void lines.push(l) } });
  const [options, destination] = params.pinoHttp as [pino.LoggerOptions, pino.DestinationStream];
  return { logger: pino(options, destination), lines };
}

describe('log redaction', () => {
  it('censors credential fields by name, at any of the first three levels', () => {
    const { logger, lines } = capture([]);
    logger.info({ password: 'p1-secret', agent: { credentials: { user: 'x' }, config: { apiKey: 'k-secret' } }, upstream: { headers: { authorization: 'Basic abc' } }, webhookSecret: 'whsec_1' }, 'saved');
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ password: '[REDACTED]', agent: { credentials: '[REDACTED]', config: { apiKey: '[REDACTED]' } }, upstream: { headers: { authorization: '[REDACTED]' } }, webhookSecret: '[REDACTED]' });
    expect(lines[0]).not.toMatch(/p1-secret|k-secret|whsec_1|Basic abc/);
  });

  it('scrubs sensitive configuration values and credential-shaped strings out of messages', () => {
    const { logger, lines } = capture(['db-pass"word']);
    logger.error(`connect failed for postgres://u:db-pass"word@db with Bearer abc.def and key bk_0123456789ab_${'x'.repeat(32)} token eyJa.eyJb.sig`);
    expect(lines[0]).not.toMatch(/db-pass|abc\.def|bk_0123|eyJa/);
    expect(JSON.parse(lines[0]).msg).toBe('connect failed for postgres://u:[REDACTED]@db with Bearer [REDACTED] and key [REDACTED] token [REDACTED]');
  });

  it('adds the request context (request id, organization, run, step, attempt) to every line', () => {
    const { logger, lines } = capture([]);
    RequestContext.run({ requestId: 'r1', organizationId: 'o1' }, () => RequestContext.with({ runId: 'run1', stepKey: 'a', attempt: 2 }, () => logger.info('step done')));
    expect(JSON.parse(lines[0])).toMatchObject({ requestId: 'r1', organizationId: 'o1', runId: 'run1', stepKey: 'a', attempt: 2, msg: 'step done' });
  });

  it('censors credential query parameters and leaves others', () => {
    expect(redactUrl('/x?access_token=abc&limit=5&api_key=k')).toBe('/x?access_token=[REDACTED]&limit=5&api_key=[REDACTED]');
    expect(secretScrubber([])('plain text')).toBe('plain text');
  });
});
