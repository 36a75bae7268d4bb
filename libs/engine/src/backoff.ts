import type { RetryPolicy } from '#core';

/** Defaults when neither the step nor the definition's `defaults.retry` says otherwise. */
export const DEFAULT_RETRY: Required<Omit<RetryPolicy, 'nonRetryable'>> & { nonRetryable: string[] } = {
  maxAttempts: 3,
  backoff: 'exponential',
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  jitter: true,
  nonRetryable: [],
};

export type ResolvedRetryPolicy = typeof DEFAULT_RETRY;

export function resolveRetryPolicy(step?: RetryPolicy, defaults?: RetryPolicy): ResolvedRetryPolicy {
  return {
    ...DEFAULT_RETRY,
    ...stripUndefined(defaults),
    ...stripUndefined(step),
    nonRetryable: [...(defaults?.nonRetryable ?? []), ...(step?.nonRetryable ?? [])],
  };
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Delay before attempt `failedAttempt + 1`: exponential (initial * 2^(n-1)) or fixed, capped at maxDelayMs;
 * with jitter, "full jitter" between half and all of it, so synchronized failures spread out.
 */
export function retryDelayMs(policy: ResolvedRetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const base = policy.backoff === 'fixed' ? policy.initialDelayMs : policy.initialDelayMs * 2 ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(base, policy.maxDelayMs);
  return Math.round(policy.jitter ? capped / 2 + random() * (capped / 2) : capped);
}
