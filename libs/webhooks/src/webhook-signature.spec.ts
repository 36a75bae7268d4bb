import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook } from './webhook-signature.js';

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret';
  const body = JSON.stringify({ id: '42', type: 'run.completed' });

  it('are sha256=<hex HMAC of "timestamp.body"> keyed with the secret string', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(signWebhook(secret, '1700000000', body)).toBe(`sha256=${expected}`);
  });

  it('verify with the right secret, body and a fresh timestamp', () => {
    const now = 1_700_000_000;
    const timestamp = String(now - 10);
    expect(verifyWebhook(secret, { timestamp, signature: signWebhook(secret, timestamp, body) }, body, { now })).toBe(true);
  });

  it('reject a changed body, another secret, a moved timestamp, or a stale one (replay)', () => {
    const now = 1_700_000_000;
    const timestamp = String(now);
    const signature = signWebhook(secret, timestamp, body);
    expect(verifyWebhook(secret, { timestamp, signature }, body.replace('42', '43'), { now })).toBe(false);
    expect(verifyWebhook('whsec_other', { timestamp, signature }, body, { now })).toBe(false);
    expect(verifyWebhook(secret, { timestamp: String(now + 1), signature }, body, { now })).toBe(false);
    expect(verifyWebhook(secret, { timestamp, signature }, body, { now: now + 301 })).toBe(false);
    expect(verifyWebhook(secret, { timestamp, signature: undefined }, body, { now })).toBe(false);
    expect(verifyWebhook(secret, { timestamp: 'soon', signature }, body, { now })).toBe(false);
  });
});
