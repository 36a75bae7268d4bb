/**
 * Collects items (live events) and hands them over at most once per animation frame, so a burst of a thousand
 * events costs one React render, not a thousand. `schedule` is injectable for tests.
 */
export class FrameBatcher<T> {
  private pending: T[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly schedule: (callback: () => void) => void = (cb) => requestAnimationFrame(() => cb()),
  ) {}

  push(item: T): void {
    this.pending.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      const items = this.pending;
      this.pending = [];
      if (items.length > 0) this.flush(items);
    });
  }
}
