import { CoalescingDrain } from './coalescing-drain.js';

describe('CoalescingDrain', () => {
  const tick = () => new Promise((r) => setImmediate(r));

  it('runs one pass at a time and one more pass for any number of wakes during a pass', async () => {
    let passes = 0;
    let release: () => void = () => undefined;
    const drain = new CoalescingDrain(async () => {
      passes++;
      await new Promise<void>((r) => (release = r));
    });
    drain.wake();
    expect(drain.busy).toBe(true);
    drain.wake();
    drain.wake();
    drain.wake();
    expect(passes).toBe(1);
    release();
    await tick();
    expect(passes).toBe(2);
    release();
    await tick();
    expect(passes).toBe(2);
    expect(drain.busy).toBe(false);
  });

  it('reports an escaped error and serves the next wake', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const drain = new CoalescingDrain(async () => {
      if (++calls === 1) throw new Error('boom');
    }, (e) => errors.push(e));
    drain.wake();
    await tick();
    expect(errors).toHaveLength(1);
    drain.wake();
    await tick();
    expect(calls).toBe(2);
  });
});
