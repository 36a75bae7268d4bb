/**
 * Signing secrets at rest. A receiver needs the plain secret to check signatures and we need it to sign, so it
 * cannot be hashed: it is encrypted with AES-256-GCM under a key derived (HKDF) from BATON_WEBHOOK_SECRET_KEY, or
 * from the JWT secret when that is unset. A database dump alone does not reveal any secret, and the API returns
 * the plain secret exactly once, when the subscription is created.
 */
import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '#config';
import { resolveJwtSecret } from '#identity';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a secret scanner. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function deriveWebhookKey(material: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'baton', 'webhook-signing-secrets', 32));
}

@Injectable()
export class WebhookSecretCipher {
  private readonly key: Buffer;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.key = deriveWebhookKey(config.webhookSecretKey ?? resolveJwtSecret(config));
  }

  encrypt(secret: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  decrypt(stored: string): string {
    const [version, data] = stored.split('.', 2);
    if (version !== VERSION || !data) throw new Error('unknown webhook secret format');
    const raw = Buffer.from(data, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
