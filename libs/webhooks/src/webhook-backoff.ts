export interface WebhookRetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay after the `failures`-th failed attempt of the current budget: initial * 2^(failures-1), capped, with
 * "equal jitter" (between half and all of it) so the retries of one receiver's outage do not arrive in lockstep.
 */
export function webhookRetryDelayMs(policy: WebhookRetryPolicy, failures: number, random: () => number = Math.random): number {
  const capped = Math.min(policy.initialDelayMs * 2 ** Math.max(0, failures - 1), policy.maxDelayMs);
  return Math.round(capped / 2 + random() * (capped / 2));
}
