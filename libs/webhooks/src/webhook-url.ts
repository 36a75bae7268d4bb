import { DomainError } from '#core';
import { nonPublicHost } from '#net';

const MAX_URL_LENGTH = 2048;

/**
 * A receiver URL: absolute http(s), no credentials (they would be stored and shown in plain text; receivers
 * authenticate us by the signature instead), no fragment, and unless private networks are allowed, not a host that
 * is plainly non-public (an IP literal of a private range, localhost; names are checked again at each delivery,
 * see webhook-address-policy). Returns the normalized URL.
 */
export function validateWebhookUrl(raw: string, allowPrivateNetworks = false): string {
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
  const refused = allowPrivateNetworks ? null : nonPublicHost(url.hostname);
  if (refused) throw problem(`${refused}: webhooks go to public addresses only (BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS allows others)`);
  return url.toString();
}
