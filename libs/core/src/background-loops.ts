/**
 * The lifecycle the background loops share (engine worker, approval timer, webhook dispatcher): `begin` once, then
 * register what runs (`spawn` a loop, `every` for a timer) and what to undo (`onStop`, e.g. a LISTEN subscription);
 * `stop` turns `running` off, clears the timers, runs the undo steps, wakes the loops' signals so they see it, lets the
 * owner finish its in-flight work, and waits for every loop to return. A loop is `while (loops.running) { ...; await
 * signal.wait(ms) }`.
 */
import type { WakeSignal } from './wake-signal.js';

export class BackgroundLoops {
  private active = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly undo: (() => void)[] = [];
  private readonly loops: Promise<void>[] = [];

  /** `signals`: what the loops sleep on; `stop` fires them so no loop sleeps through it. */
  constructor(private readonly signals: readonly WakeSignal[] = []) {}

  get running(): boolean {
    return this.active;
  }

  /** True once `stop` was called: work that may also run outside the loops (a pass a test calls) ends early. */
  get stopping(): boolean {
    return this.stopped;
  }

  /** Marks the loops running; false (do nothing more) when they already were. */
  begin(): boolean {
    if (this.active) return false;
    this.active = true;
    return true;
  }

  spawn(loop: () => Promise<void>): void {
    this.loops.push(loop());
  }

  /** Calls `task` every `ms` while running (the timer never keeps the process alive). */
  every(ms: number, task: () => unknown): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.timers.push(timer);
  }

  onStop(undo: () => void): void {
    this.undo.push(undo);
  }

  /**
   * Stops everything; `finish` runs after the loops were told to stop and before they are awaited (let in-flight work
   * end, hand back what cannot). Resolves false when nothing was running.
   */
  async stop(finish?: () => Promise<void>): Promise<boolean> {
    this.stopped = true;
    if (!this.active) return false;
    this.active = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const undo of this.undo.splice(0)) undo();
    this.wakeAll();
    await finish?.();
    this.wakeAll();
    await Promise.all(this.loops.splice(0));
    return true;
  }

  private wakeAll(): void {
    for (const signal of this.signals) signal.fire();
  }
}
