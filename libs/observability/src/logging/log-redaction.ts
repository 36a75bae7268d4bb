/**
 * What never reaches a log line. Two layers, both configuration rather than code at each call site:
 * 1. pino `redact` paths: fields that hold credentials by name (Authorization headers, passwords, tokens, API
 *    keys, webhook secrets, agent credentials), wherever a log object carries them (up to three levels deep);
 * 2. a scrubber over every serialized line: the values of sensitive configuration variables (libs/config marks
 *    them) and anything shaped like a Baton API key, a JWT or a bearer credential, so a secret that slipped into
 *    a message string is caught too.
 */
export const REDACTED = '[REDACTED]';

/** Field names that hold a credential, matched at any of the first three levels of a log object. */
export const SECRET_FIELD_NAMES = [
  'password',
  'newPassword',
  'token',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'apiKey',
  'api_key',
  'secret',
  'webhookSecret',
  'signingSecret',
  'clientSecret',
  'credentials',
  'authorization',
  'Authorization',
  'cookie',
  'privateKey',
] as const;

const HEADER_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

export function redactPaths(): string[] {
  const byName = SECRET_FIELD_NAMES.flatMap((name) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`;
    return [key, `*.${key}`, `*.*.${key}`];
  });
  return [...HEADER_PATHS, ...byName];
}

/** A Baton API key (bk_<prefix>_<secret>), a JWT, or the credential after Bearer/Basic. */
const CREDENTIAL_PATTERNS: RegExp[] = [/\bbk_[A-Za-z0-9]+_[A-Za-z0-9_-]+/g, /\beyJ[\w-]+\.[\w-]+\.[\w-]+/g, /\b(Bearer|Basic)\s+[\w.~+/=-]+/gi];

/** Query parameters whose values are credentials (the stream WebSocket accepts `?access_token=`). */
const SECRET_QUERY = /([?&](?:access_token|token|api_key|apikey|key|secret)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, `$1${REDACTED}`);
}

/**
 * Returns a function that removes the given secret values, and credential-shaped strings, from a serialized log
 * line. Secrets are matched both raw and JSON-escaped (a quote or backslash in a password is escaped in the line).
 */
export function secretScrubber(secrets: readonly string[]): (line: string) => string {
  const needles = [...new Set(secrets.filter((s) => s.length >= 6).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))].sort((a, b) => b.length - a.length);
  return (line: string) => {
    let out = line;
    for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, (match, scheme?: string) => (typeof scheme === 'string' && /^(bearer|basic)$/i.test(scheme) ? `${scheme} ${REDACTED}` : REDACTED));
    return out;
  };
}
