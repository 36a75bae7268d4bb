import { backoffDelayMs, type RetryPolicy } from '#core';

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
 * Delay before attempt `failedAttempt + 1`: the shared formula of libs/core (exponential or fixed, capped, with equal
 * jitter between half and all of it when `jitter` is on; see docs/architecture.md invariant 9).
 */
export function retryDelayMs(policy: ResolvedRetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  return backoffDelayMs(policy, failedAttempt, random);
}
