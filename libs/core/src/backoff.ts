/** The exponential backoff shared by step retries (libs/engine/src/backoff.ts) and webhook redeliveries. */
export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Default exponential: initial * 2^(n-1). */
  backoff?: 'exponential' | 'fixed';
  /** Default true. */
  jitter?: boolean;
}

/**
 * Delay after the `failures`-th failure: exponential (initial * 2^(n-1)) or fixed, capped at maxDelayMs; with jitter,
 * "equal jitter" (a uniformly random point between half and all of it): synchronized failures spread out, yet a retry
 * never comes sooner than half the nominal delay.
 */
export function backoffDelayMs(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const base = policy.backoff === 'fixed' ? policy.initialDelayMs : policy.initialDelayMs * 2 ** Math.max(0, failures - 1);
  const capped = Math.min(base, policy.maxDelayMs);
  return Math.round(policy.jitter === false ? capped : capped / 2 + random() * (capped / 2));
}
