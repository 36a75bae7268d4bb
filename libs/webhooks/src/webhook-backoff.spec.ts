import { webhookRetryDelayMs } from './webhook-backoff.js';

describe('webhook retry delays', () => {
  const policy = { maxAttempts: 10, initialDelayMs: 1000, maxDelayMs: 10_000 };

  it('double after each failure, up to the cap', () => {
    const top = (failures: number) => webhookRetryDelayMs(policy, failures, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(top)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('are jittered between half and all of the nominal delay', () => {
    expect(webhookRetryDelayMs(policy, 3, () => 0)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const delay = webhookRetryDelayMs(policy, 3);
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(4000);
    }
  });
});
