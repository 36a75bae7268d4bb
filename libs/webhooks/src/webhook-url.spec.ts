import { DomainError } from '#core';
import { validateWebhookUrl } from './webhook-url.js';

function problem(url: string): string {
  try {
    validateWebhookUrl(url);
  } catch (error) {
    if (error instanceof DomainError) return (error.details as { path: string; message: string }[])[0].message;
    throw error;
  }
  return 'accepted';
}

describe('webhook URLs', () => {
  it('accept absolute http and https URLs, normalized', () => {
    expect(validateWebhookUrl('https://hooks.example.com/baton?x=1')).toBe('https://hooks.example.com/baton?x=1');
    expect(validateWebhookUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/');
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
