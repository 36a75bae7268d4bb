import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `bk_<prefix>_<secret>`. The prefix is stored in clear to find the row; only a SHA-256 of
 * the whole key is stored (keys are high-entropy, so a slow hash adds nothing).
 */
export interface GeneratedApiKey {
  key: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const prefix = randomBytes(6).toString('hex');
  const key = `bk_${prefix}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The parts of a well-formed key (the secret is base64url, so it may itself contain `_`), or null. */
export function parseApiKey(token: string): { prefix: string; secret: string } | null {
  const match = /^bk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(token);
  return match ? { prefix: match[1], secret: match[2] } : null;
}

export function apiKeyMatches(key: string, storedHash: string): boolean {
  const a = Buffer.from(hashApiKey(key), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
