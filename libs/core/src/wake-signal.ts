/**
 * A wake-up flag shared by the background loops (engine worker, webhook dispatcher): `wait` resolves on the next
 * `fire` (or at once if one arrived since the last wait), or after a timeout.
 */
export class WakeSignal {
  private fired = false;
  private waiter: (() => void) | null = null;

  fire(): void {
    this.fired = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  wait(timeoutMs: number): Promise<void> {
    if (this.fired) {
      this.fired = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = null;
        this.fired = false;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiter = done;
    });
  }
}
