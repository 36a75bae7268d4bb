import type { INestApplicationContext } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { faultPoints, type DefinitionSpec } from '#core';
import { insertDefinition, openEngineContext, openScratchDatabase, testConfig, type ScratchDatabase } from '#testing';
import { RunStarter } from '../runs/run-starter.service.js';
import { ResultApplier, type ApplySummary } from './result-applier.js';
import { StepClaimer, type ClaimedStep } from './step-claimer.js';
import type { StepOutcome, StepResult } from './step-outcome.js';

/**
 * The result applier against a real database, driven by hand: a scratch database (no other suite's worker claims
 * these steps) and an engine without a running worker, so every claim and every result is the test's own.
 */
describe('ResultApplier (PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let ds: DataSource;
  let ctx: INestApplicationContext;
  let applier: ResultApplier;
  let claimer: StepClaimer;
  let starter: RunStarter;
  let orgId: string;
  let n = 0;

  beforeAll(async () => {
    scratch = await openScratchDatabase('applier');
    ds = scratch.dataSource;
    ctx = await openEngineContext(testConfig({ databaseUrl: scratch.url }));
    applier = ctx.get(ResultApplier, { strict: false });
    claimer = ctx.get(StepClaimer, { strict: false });
    starter = ctx.get(RunStarter, { strict: false });
    [{ id: orgId }] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('applier', 'applier') RETURNING id`);
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await ctx?.close();
    await scratch?.drop();
  });

  const start = async (steps: DefinitionSpec['steps'], extra: Partial<DefinitionSpec> = {}): Promise<string> => {
    const slug = `applier-${++n}`;
    await insertDefinition(ds, orgId, { slug, name: slug, steps, ...extra });
    return (await starter.start({ organizationId: orgId, definition: slug, input: {} })).run.id;
  };
  const claimOne = async (runId: string, owner = 'w1'): Promise<ClaimedStep> => {
    const claimed = (await claimer.claim(owner, 50, 15_000)).filter((c) => c.runId === runId);
    expect(claimed).toHaveLength(1);
    return claimed[0];
  };
  const result = (step: ClaimedStep, outcome: StepOutcome, extra: Partial<StepResult> = {}): StepResult => ({
    stepId: step.id,
    runId: step.runId,
    stepKey: step.stepKey,
    attempt: step.attempt,
    fenceOwner: 'w1',
    outcome,
    ...extra,
  });
  const steps = async (runId: string) =>
    (await ds.query(
      `SELECT step_key, status, attempt, lease_owner, lease_losses, next_attempt_at > now() AS later FROM orchestration_steps WHERE run_id = $1 ORDER BY position`,
      [runId],
    )) as { step_key: string; status: string; attempt: number; lease_owner: string | null; lease_losses: number; later: boolean }[];
  const run = async (runId: string) => ((await ds.query(`SELECT status, output, error FROM orchestration_runs WHERE id = $1`, [runId])) as { status: string; output: unknown; error: unknown }[])[0];
  const events = async (runId: string) =>
    ((await ds.query(`SELECT type, step_key, payload FROM orchestration_events WHERE run_id = $1 ORDER BY seq`, [runId])) as {
      type: string;
      step_key: string | null;
      payload: Record<string, unknown>;
    }[]);

  it('fences results: another owner, another attempt or a duplicate in the batch is discarded', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    const a = await claimOne(runId);
    const done: StepOutcome = { kind: 'completed', output: { ok: true } };
    expect(await applier.apply([result(a, done, { fenceOwner: 'someone-else' }), result(a, done, { attempt: a.attempt + 1 })])).toMatchObject({
      applied: 0,
      discarded: 2,
    });
    expect((await steps(runId))[0]).toMatchObject({ status: 'running', lease_owner: 'w1' });
    expect(await applier.apply([result(a, done), result(a, done)])).toMatchObject({ applied: 1, discarded: 1 });
    expect(await run(runId)).toMatchObject({ status: 'completed', output: { a: { ok: true } } });
    // Late: the step is no longer running.
    expect(await applier.apply([result(a, done)])).toMatchObject({ applied: 0, discarded: 1 });
  });

  it("releases a completed step's dependents in the same transaction, and completes the run after its last step", async () => {
    const runId = await start([
      { key: 'a', agent: 'echo' },
      { key: 'b', agent: 'echo', dependsOn: ['a'], input: { from: '{{ steps.a.output.v }}' } },
    ]);
    const a = await claimOne(runId);
    await applier.apply([result(a, { kind: 'completed', output: { v: 7 } })]);
    expect((await steps(runId)).map((s) => s.status)).toEqual(['completed', 'ready']);
    const b = await claimOne(runId);
    expect(b.input).toEqual({ from: 7 });
    await applier.apply([result(b, { kind: 'completed', output: { w: 8 } })]);
    expect(await run(runId)).toMatchObject({ status: 'completed', output: { b: { w: 8 } } });
    expect((await events(runId)).map((e) => `${e.type}${e.step_key ? `:${e.step_key}` : ''}`)).toEqual([
      'run.created',
      'run.started',
      'step.ready:a',
      'step.started:a',
      'step.completed:a',
      'step.ready:b',
      'step.started:b',
      'step.completed:b',
      'run.completed',
    ]);
  });

  it('starts released dependents at once for a worker that lends its slots', async () => {
    const runId = await start([
      { key: 'a', agent: 'echo' },
      { key: 'b', agent: 'echo', dependsOn: ['a'] },
    ]);
    const a = await claimOne(runId);
    const summary = await applier.apply([result(a, { kind: 'completed', output: {} })], { workerId: 'w1', leaseMs: 15_000, limit: 5 });
    expect(summary.claimed.map((c) => c.stepKey)).toEqual(['b']);
    expect((await steps(runId))[1]).toMatchObject({ status: 'running', lease_owner: 'w1', attempt: 1 });
  });

  it('writes a released dependent once: started with its count-down, or made ready with it when no slot is left', async () => {
    const runId = await start([
      { key: 'a', agent: 'echo' },
      { key: 'b', agent: 'echo', dependsOn: ['a'] },
      { key: 'c', agent: 'echo', dependsOn: ['a'] },
      { key: 'd', agent: 'echo', dependsOn: ['a', 'b'] },
    ]);
    const a = await claimOne(runId);
    // Each update of a step row (a row version) is logged by a trigger, with its transaction; only this run's rows are
    // counted, and the trigger is gone again whatever happens (the suite's database outlives the test).
    await ds.query(`CREATE TABLE step_updates (run_id uuid, step_key text, tx xid8 DEFAULT pg_current_xact_id())`);
    await ds.query(
      `CREATE FUNCTION log_step_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO step_updates (run_id, step_key) VALUES (NEW.run_id, NEW.step_key); RETURN NULL; END $$`,
    );
    await ds.query(`CREATE TRIGGER log_step_update AFTER UPDATE ON orchestration_steps FOR EACH ROW EXECUTE FUNCTION log_step_update()`);
    let summary: ApplySummary;
    let updates: { step_key: string; n: number; txs: number }[];
    try {
      summary = await applier.apply([result(a, { kind: 'completed', output: {} })], { workerId: 'w1', leaseMs: 15_000, limit: 1 });
      updates = await ds.query(
        `SELECT step_key, count(*)::int AS n, count(DISTINCT tx)::int AS txs FROM step_updates WHERE run_id = $1 GROUP BY step_key ORDER BY step_key`,
        [runId],
      );
    } finally {
      await ds.query(`DROP TRIGGER log_step_update ON orchestration_steps; DROP FUNCTION log_step_update(); DROP TABLE step_updates`);
    }
    expect(summary.claimed.map((c) => c.stepKey)).toEqual(['b']);
    const rows: { step_key: string; status: string; pending_dependencies: number; due: boolean }[] = await ds.query(
      `SELECT step_key, status, pending_dependencies, coalesce(next_attempt_at <= now(), false) AS due FROM orchestration_steps WHERE run_id = $1 ORDER BY position`,
      [runId],
    );
    expect(rows.slice(1)).toEqual([
      { step_key: 'b', status: 'running', pending_dependencies: 0, due: true },
      { step_key: 'c', status: 'ready', pending_dependencies: 0, due: true },
      { step_key: 'd', status: 'pending', pending_dependencies: 1, due: false },
    ]);
    expect(updates).toEqual(['a', 'b', 'c', 'd'].map((step_key) => ({ step_key, n: 1, txs: 1 })));
  });

  it('retries a retryable failure after a backoff delay, then fails the run and cancels its open steps', async () => {
    const runId = await start([
      { key: 'a', agent: 'echo', retry: { maxAttempts: 2, initialDelayMs: 60_000, maxDelayMs: 120_000, jitter: false } },
      { key: 'b', agent: 'echo' },
      { key: 'c', agent: 'echo', dependsOn: ['a'] },
    ]);
    const claimed = (await claimer.claim('w1', 50, 15_000)).filter((c) => c.runId === runId);
    const a = claimed.find((c) => c.stepKey === 'a') as ClaimedStep;
    const error = { code: 'FLAKY', message: 'try again', retryable: true };
    const first = await applier.apply([result(a, { kind: 'failed', error })]);
    expect(first.nextRetryInMs).toBe(60_000);
    expect((await steps(runId))[0]).toMatchObject({ status: 'ready', attempt: 1, lease_owner: null, later: true });
    const retrying = (await events(runId)).find((e) => e.type === 'step.retrying');
    expect(retrying?.payload).toMatchObject({ attempt: 1, nextAttempt: 2, delayMs: 60_000, error });

    await ds.query(`UPDATE orchestration_steps SET next_attempt_at = now() WHERE run_id = $1 AND step_key = 'a'`, [runId]);
    const again = await claimOne(runId);
    expect(again.attempt).toBe(2);
    await applier.apply([result(again, { kind: 'failed', error })]);
    expect((await steps(runId)).map((s) => s.status)).toEqual(['failed', 'cancelled', 'cancelled']);
    expect(await run(runId)).toMatchObject({ status: 'failed', error: { step: 'a', error } });
    const tail = (await events(runId)).slice(-4).map((e) => [e.type, e.step_key, e.payload.reason ?? null]);
    expect(tail).toEqual([
      ['step.failed', 'a', null],
      ['step.cancelled', 'b', 'run_failed'],
      ['step.cancelled', 'c', 'run_failed'],
      ['run.failed', null, null],
    ]);
    // The cancelled running step's late result is discarded.
    const b = claimed.find((c) => c.stepKey === 'b') as ClaimedStep;
    expect(await applier.apply([result(b, { kind: 'completed', output: {} })])).toMatchObject({ discarded: 1 });
  });

  it('fails at once on a non-retryable failure', async () => {
    const runId = await start([{ key: 'a', agent: 'echo', retry: { maxAttempts: 5, nonRetryable: ['BAD_INPUT'] } }]);
    const a = await claimOne(runId);
    await applier.apply([result(a, { kind: 'failed', error: { code: 'BAD_INPUT', message: 'no', retryable: true } })]);
    expect(await run(runId)).toMatchObject({ status: 'failed' });
  });

  it('gives a lost lease back without counting the attempt, only while still expired, and fails the step on the fourth loss', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    const expire = () => ds.query(`UPDATE orchestration_steps SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`, [runId]);
    let a = await claimOne(runId);
    // The lease is still valid: the reaper's claim is refused.
    expect(await applier.apply([result(a, { kind: 'lease_lost' })])).toMatchObject({ discarded: 1 });
    for (let loss = 1; loss <= 3; loss++) {
      await expire();
      expect(await applier.apply([result(a, { kind: 'lease_lost' })])).toMatchObject({ applied: 1, nextRetryInMs: 0 });
      expect((await steps(runId))[0]).toMatchObject({ status: 'ready', attempt: 0, lease_losses: loss });
      a = await claimOne(runId);
      expect(a.attempt).toBe(1);
    }
    await expire();
    await applier.apply([result(a, { kind: 'lease_lost' })]);
    expect((await steps(runId))[0]).toMatchObject({ status: 'failed', lease_losses: 4 });
    expect(await run(runId)).toMatchObject({ status: 'failed', error: { step: 'a', error: { code: 'LEASE_EXPIRED' } } });
  });

  it('commits nothing when COMMIT fails (fault point engine.tx.beforeCommit), and the same batch applies afterwards', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    const a = await claimOne(runId);
    const before = (await events(runId)).length;
    faultPoints.arm('engine.tx.beforeCommit', () => {
      throw new Error('injected commit failure');
    });
    await expect(applier.apply([result(a, { kind: 'completed', output: { v: 1 } })])).rejects.toThrow('injected commit failure');
    expect((await steps(runId))[0]).toMatchObject({ status: 'running', lease_owner: 'w1' });
    expect(await events(runId)).toHaveLength(before);
    expect(await run(runId)).toMatchObject({ status: 'running' });
    expect(await applier.apply([result(a, { kind: 'completed', output: { v: 1 } })])).toMatchObject({ applied: 1 });
    expect(await run(runId)).toMatchObject({ status: 'completed' });
  });

  it('loses nothing when the connection dies during a claim (fault point engine.claim.afterCandidates)', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }], { concurrency: 1 });
    faultPoints.arm('engine.claim.afterCandidates', async (client) => {
      await (client as { query(sql: string, values: unknown[]): Promise<unknown> })
        .query('SELECT pg_terminate_backend(pg_backend_pid()) WHERE $1', [true])
        .catch(() => undefined);
    });
    await expect(claimer.claim('w1', 50, 15_000)).rejects.toThrow();
    expect((await steps(runId))[0]).toMatchObject({ status: 'ready', attempt: 0, lease_owner: null });
    expect((await events(runId)).map((e) => e.type)).not.toContain('step.started');
    const a = await claimOne(runId);
    expect(a).toMatchObject({ stepKey: 'a', attempt: 1 });
  });
});
