import { BackgroundLoops } from './background-loops.js';
import { WakeSignal } from './wake-signal.js';

describe('BackgroundLoops', () => {
  it('starts once, and stop wakes the sleeping loop, runs the undo steps and finish, clears timers and waits for the loop', async () => {
    const wake = new WakeSignal();
    const loops = new BackgroundLoops([wake]);
    const order: string[] = [];
    let ticks = 0;
    expect(loops.begin()).toBe(true);
    expect(loops.begin()).toBe(false);
    loops.spawn(async () => {
      while (loops.running) await wake.wait(60_000); // would sleep a minute without the wake-up
      order.push('loop returned');
    });
    loops.every(5, () => ticks++);
    loops.onStop(() => order.push('undo'));
    await new Promise((r) => setTimeout(r, 30));
    expect(ticks).toBeGreaterThan(0);
    const stopped = loops.stop(async () => {
      order.push('finish');
    });
    expect(loops.running).toBe(false);
    expect(loops.stopping).toBe(true);
    expect(await stopped).toBe(true);
    expect(order).toEqual(['undo', 'finish', 'loop returned']);
    const after = ticks;
    await new Promise((r) => setTimeout(r, 20));
    expect(ticks).toBe(after);
    expect(await loops.stop()).toBe(false);
  });
});
