import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of a presented bearer token with the configured scrape token. */
export function scrapeTokenMatches(expected: string, authorization: string | undefined): boolean {
  const presented = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!presented) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
