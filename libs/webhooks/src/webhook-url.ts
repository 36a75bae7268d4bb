import { DomainError } from '#core';

const MAX_URL_LENGTH = 2048;

/**
 * A receiver URL: absolute http(s), no credentials (they would be stored and shown in plain text; receivers
 * authenticate us by the signature instead), no fragment. Returns the normalized URL.
 */
export function validateWebhookUrl(raw: string): string {
  const problem = (message: string) => DomainError.validation(`Invalid webhook URL: ${message}`, [{ path: '$.url', message }]);
  if (raw.length > MAX_URL_LENGTH) throw problem(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw problem('not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw problem('only http and https URLs are allowed');
  if (url.username !== '' || url.password !== '') throw problem('credentials in the URL are not allowed; verify our signature instead');
  if (url.hash !== '') throw problem('a fragment is never sent; remove it');
  return url.toString();
}
