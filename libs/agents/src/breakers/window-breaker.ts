import type { CircuitState, IBreaker } from 'cockatiel';

/**
 * Opens after `threshold` failures within `windowMs` (successes do not reset the count: a flapping agent that fails
 * five times a minute is unhealthy even if it answers in between). The state machine around it (open, half-open
 * after the cool-down, closed again) is cockatiel's CircuitBreakerPolicy.
 */
export class WindowBreaker implements IBreaker {
  private failures: number[] = [];

  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}

  get state(): unknown {
    return { failures: this.failures };
  }

  set state(value: unknown) {
    this.failures = Array.isArray((value as { failures?: unknown })?.failures) ? [...(value as { failures: number[] }).failures] : [];
  }

  success(_state: CircuitState): void {
    // a success after a half-open trial closes the circuit; start counting afresh
    if (_state !== 0) this.failures = [];
  }

  failure(): boolean {
    const now = Date.now();
    this.failures = [...this.failures.filter((at) => now - at < this.windowMs), now];
    return this.failures.length >= this.threshold;
  }
}
