/**
 * Streams an LLM answer as step.progress events without flooding the event log: deltas arriving faster than
 * `intervalMs` are coalesced, so a step emits at most ~1000/intervalMs events a second (each one row in
 * orchestration_events), and `flush` sends what is left when the answer ends.
 */
import type { JsonValue } from '#core';

export const LLM_DELTA = 'llm.delta';
export const DEFAULT_PROGRESS_INTERVAL_MS = 100;

export class ProgressThrottle {
  private pending = '';
  private chars = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly emit: (progress: JsonValue) => void,
    private readonly intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
  ) {}

  push(text: string): void {
    if (!text) return;
    this.pending += text;
    this.chars += text.length;
    if (this.timer) return;
    const wait = this.lastAt + this.intervalMs - Date.now();
    if (wait <= 0) this.send();
    else this.timer = setTimeout(() => this.send(), wait);
  }

  /** Sends what is pending now (the answer ended) and stops the timer. */
  flush(): void {
    this.send();
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending) return;
    this.lastAt = Date.now();
    const text = this.pending;
    this.pending = '';
    this.emit({ type: LLM_DELTA, text, chars: this.chars });
  }
}
