import { loadConfig } from '#config';
import { generateWebhookSecret, WebhookSecretCipher } from './webhook-secret-cipher.js';

const KEY = 'k'.repeat(32);

describe('webhook secrets', () => {
  it('are 32 random bytes, recognisable by their prefix, never twice the same', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64url')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(a);
  });

  it('are stored encrypted (authenticated): the stored text does not contain the secret and decrypts only with the same key', () => {
    const cipher = new WebhookSecretCipher(loadConfig({ BATON_WEBHOOK_SECRET_KEY: KEY }));
    const secret = generateWebhookSecret();
    const stored = cipher.encrypt(secret);
    expect(stored).not.toContain(secret.slice(6, 20));
    expect(cipher.encrypt(secret)).not.toBe(stored); // a fresh IV each time
    expect(cipher.decrypt(stored)).toBe(secret);

    const other = new WebhookSecretCipher(loadConfig({ BATON_WEBHOOK_SECRET_KEY: 'o'.repeat(32) }));
    expect(() => other.decrypt(stored)).toThrow();
    const [version, data] = stored.split('.');
    const tampered = Buffer.from(data, 'base64url');
    tampered[tampered.length - 1] ^= 1;
    expect(() => cipher.decrypt(`${version}.${tampered.toString('base64url')}`)).toThrow();
  });

  it('fall back to a key derived from the JWT secret when BATON_WEBHOOK_SECRET_KEY is unset', () => {
    const env = { JWT_SECRET: 'j'.repeat(40) };
    const stored = new WebhookSecretCipher(loadConfig(env)).encrypt('whsec_abc');
    expect(new WebhookSecretCipher(loadConfig(env)).decrypt(stored)).toBe('whsec_abc');
    expect(() => new WebhookSecretCipher(loadConfig({ JWT_SECRET: 'x'.repeat(40) })).decrypt(stored)).toThrow();
  });
});
