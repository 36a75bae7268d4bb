/**
 * A backlog of ready steps larger than the worker's slots drains at the worker's pace, not at one claim per poll
 * interval: a result batch of fan-out branches borrows free slots for the steps it might release, and when it releases
 * none the claim loop must hear that the slots are free again (it found none while they were lent). The poll interval
 * here is a minute, so a claim loop left waiting for it would leave the runs unfinished.
 */
import { EngineWorker } from '#engine';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

describe('worker backlog', () => {
  let t: ScratchApp;

  beforeAll(async () => {
    t = await openScratchApp('backlog', { workerConcurrency: 4, pollIntervalMs: 60_000 });
  });

  afterAll(async () => {
    await t.close();
  });

  it('drains a backlog of fan-out steps ten times its slots without waiting for a poll', async () => {
    const worker = t.app.get(EngineWorker);
    const definition = await t.define({
      steps: [
        { key: 'start', agent: 'echo' },
        ...Array.from({ length: 6 }, (_, i) => ({ key: `b${i}`, agent: 'echo', dependsOn: ['start'] })),
        { key: 'join', agent: 'echo', dependsOn: Array.from({ length: 6 }, (_, i) => `b${i}`) },
      ],
    });
    await worker.stop();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await t.http().post('/orchestrations/runs').set(t.auth()).send({ definition, input: { i } }).expect(201);
      ids.push(created.body.id);
    }
    const startedAt = Date.now();
    await worker.start();
    const statuses = async () =>
      Promise.all(ids.map(async (id) => (await t.http().get(`/orchestrations/runs/${id}/status`).set(t.auth()).expect(200)).body.status as string));
    let seen = await statuses();
    while (seen.some((s) => s !== 'completed') && Date.now() - startedAt < 45_000) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await statuses();
    }
    // 40 steps on 4 slots: within 45 s even on a loaded machine, under the minute one poll would take.
    expect(seen).toEqual(ids.map(() => 'completed'));
  }, 55_000);
});
