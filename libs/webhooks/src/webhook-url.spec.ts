import { DomainError } from '#core';
import { validateWebhookUrl } from './webhook-url.js';

function problem(url: string, allowPrivateNetworks = false): string {
  try {
    validateWebhookUrl(url, allowPrivateNetworks);
  } catch (error) {
    if (error instanceof DomainError) return (error.details as { path: string; message: string }[])[0].message;
    throw error;
  }
  return 'accepted';
}

describe('webhook URLs', () => {
  it('accept absolute http and https URLs, normalized', () => {
    expect(validateWebhookUrl('https://hooks.example.com/baton?x=1')).toBe('https://hooks.example.com/baton?x=1');
    expect(validateWebhookUrl('http://127.0.0.1:8080', true)).toBe('http://127.0.0.1:8080/');
  });

  it('refuse loopback, private and metadata addresses unless private networks are allowed', () => {
    expect(problem('http://127.0.0.1:8080/hook')).toMatch(/127\.0\.0\.1 is not a public address.*BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS/);
    expect(problem('http://169.254.169.254/latest/meta-data/')).toMatch(/not a public address/);
    expect(problem('http://[::1]:9000/')).toMatch(/not a public address/);
    expect(problem('http://localhost:3000/')).toMatch(/this machine/);
    // the URL parser normalizes other spellings of an IPv4 address before the check
    expect(problem('http://2130706433/')).toMatch(/127\.0\.0\.1 is not a public address/);
    expect(problem('http://0x7f.1/')).toMatch(/127\.0\.0\.1 is not a public address/);
    expect(problem('http://10.0.0.5/', true)).toBe('accepted');
    expect(problem('https://hooks.example.com/x')).toBe('accepted');
  });

  it('reject other schemes, relative URLs, credentials and fragments, saying why', () => {
    expect(problem('ftp://example.com/x')).toMatch(/only http and https/);
    expect(problem('file:///etc/passwd')).toMatch(/only http and https/);
    expect(problem('/relative')).toMatch(/not an absolute URL/);
    expect(problem('https://user:pass@example.com/')).toMatch(/credentials/);
    expect(problem('https://token@example.com/')).toMatch(/credentials/);
    expect(problem('https://example.com/#frag')).toMatch(/fragment/);
    expect(problem(`https://example.com/${'a'.repeat(2048)}`)).toMatch(/longer than/);
  });
});
