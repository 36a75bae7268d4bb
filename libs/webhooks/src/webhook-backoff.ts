import { backoffDelayMs } from '#core';

export interface WebhookRetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay after the `failures`-th failed attempt of the current budget: initial * 2^(failures-1), capped, with equal
 * jitter (the formula of libs/core backoff.ts) so the retries of one receiver's outage do not arrive in lockstep.
 */
export function webhookRetryDelayMs(policy: WebhookRetryPolicy, failures: number, random: () => number = Math.random): number {
  return backoffDelayMs(policy, failures, random);
}
