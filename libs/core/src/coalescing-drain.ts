/**
 * Runs a drain on demand, never two at once and never missing a demand: a `wake` while the drain runs asks for
 * one more pass after it ends (however many wakes arrived meanwhile), so work signalled mid-pass is always read.
 * Used by the readers that many notifications wake (the event tail, each run stream's feed). The drain handles its
 * own errors; one that escapes is passed to `onError` and the next wake starts afresh.
 */
export class CoalescingDrain {
  private running = false;
  private again = false;

  constructor(
    private readonly drain: () => Promise<void>,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** True while a pass runs. */
  get busy(): boolean {
    return this.running;
  }

  wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.drain()
      .catch(this.onError)
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }
}
