/**
 * A slow agent that ignores its AbortSignal (ModeRunner's `sleepMs` holds each call whatever the signal says) cannot
 * hold a step: at the step's timeout the attempt fails TIMEOUT and is retried while the agent still sleeps; when its
 * lease is lost (here taken by another owner, as after a heartbeat that could not reach the database for longer
 * than the lease), the worker drops the attempt at its next heartbeat, the step runs again once the lease expires,
 * and the answer the stuck call gives later is discarded: the step completes once, by the next attempt.
 */
import { AgentRunnerRegistry } from '#agents';
import { waitFor, waitForRun } from '#testing';
import { ModeRunner } from './agents-test-runner.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const SLEEP_MS = 1500;

describe('a slow agent that ignores its AbortSignal (e2e)', () => {
  let s: ScratchApp;
  const runner = new ModeRunner();

  beforeAll(async () => {
    s = await openScratchApp('stuckagent', { leaseMs: 900, pollIntervalMs: 100 });
    s.app.get(AgentRunnerRegistry).register(runner);
    await s
      .http()
      .post('/agents')
      .set(s.auth('admin'))
      .send({ slug: 'stuck', name: 'stuck', type: 'function', config: { mode: 'ok', sleepMs: SLEEP_MS } })
      .expect(201);
  });

  afterAll(async () => {
    await s?.close();
  });

  const start = async (steps: Parameters<ScratchApp['define']>[0]['steps']) =>
    (
      await s
        .http()
        .post('/orchestrations/runs')
        .set(s.auth())
        .send({ definition: await s.define({ steps }) })
        .expect(201)
    ).body.id as string;
  const events = async (runId: string) =>
    (await s.scratch.dataSource.query(`SELECT type, payload, created_at FROM orchestration_events WHERE run_id = $1 ORDER BY seq`, [
      runId,
    ])) as {
      type: string;
      payload: { attempt?: number; reason?: string };
      created_at: Date;
    }[];

  it('times out while the agent sleeps on: the attempts fail TIMEOUT at once, and the late answers change nothing', async () => {
    const before = runner.calls.get('stuck') ?? 0;
    const began = Date.now();
    const runId = await start([
      { key: 'slow', agent: 'stuck', timeoutMs: 200, retry: { maxAttempts: 2, initialDelayMs: 50, jitter: false } },
    ]);
    const run = await waitForRun(s.app, s.org.users.viewer.token, runId, ['completed', 'failed']);
    expect(Date.now() - began).toBeLessThan(SLEEP_MS); // neither attempt waited for the agent
    expect(run).toMatchObject({ status: 'failed', error: { step: 'slow', error: { code: 'TIMEOUT' } } });
    expect((runner.calls.get('stuck') ?? 0) - before).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, SLEEP_MS + 300)); // both calls answer now
    expect((await events(runId)).filter((e) => e.type === 'step.completed')).toEqual([]);
    expect((await waitForRun(s.app, s.org.users.viewer.token, runId, ['failed'])).status).toBe('failed');
  });

  it('loses its lease while the agent sleeps on: the attempt is dropped, the step runs again, and completes once', async () => {
    const before = runner.calls.get('stuck') ?? 0;
    const runId = await start([{ key: 'slow', agent: 'stuck' }]);
    const [step] = await waitFor(
      async () => {
        const rows = (await s.scratch.dataSource.query(`SELECT id FROM orchestration_steps WHERE run_id = $1 AND status = 'running'`, [
          runId,
        ])) as { id: string }[];
        return rows.length ? rows : null;
      },
      10_000,
      'the step to run',
    );
    await s.scratch.dataSource.query(
      `UPDATE orchestration_steps SET lease_owner = 'another-instance', lease_expires_at = now() + interval '300 milliseconds' WHERE id = $1`,
      [step.id],
    );
    const run = await waitForRun(s.app, s.org.users.viewer.token, runId, ['completed', 'failed'], 20_000);
    expect(run.status).toBe('completed');
    const log = await events(runId);
    const retried = log.filter((e) => e.type === 'step.retrying');
    const completed = log.filter((e) => e.type === 'step.completed');
    expect(retried.map((e) => e.payload.reason)).toEqual(['lease_expired']);
    expect(completed).toHaveLength(1);
    // A lost lease is not a failed attempt (the number is given back): what tells the answers apart is time. The one
    // applied came a whole agent call after the requeue, so it is the second call's; the first call's was dropped.
    expect(completed[0].created_at.getTime() - retried[0].created_at.getTime()).toBeGreaterThanOrEqual(SLEEP_MS - 100);
    expect((runner.calls.get('stuck') ?? 0) - before).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await events(runId)).filter((e) => e.type === 'step.completed')).toHaveLength(1);
  });
});
