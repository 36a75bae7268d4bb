import type { INestApplicationContext } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { faultPoints, type DefinitionSpec } from '#core';
import { insertDefinition, openEngineContext, openScratchDatabase, testConfig, type ScratchDatabase } from '#testing';
import { RunStarter } from '../runs/run-starter.service.js';
import { ResultApplier } from './result-applier.js';
import { StepClaimer, type ClaimedStep } from './step-claimer.js';

/**
 * The claimer's choice against a real database, driven by hand (a scratch database and no running worker): which
 * ready steps a claim takes, in which order, under which limits, and what it leaves when something goes wrong.
 */
describe('StepClaimer (PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let ds: DataSource;
  let ctx: INestApplicationContext;
  let claimer: StepClaimer;
  let applier: ResultApplier;
  let starter: RunStarter;
  let orgId: string;
  let n = 0;

  beforeAll(async () => {
    scratch = await openScratchDatabase('claimer');
    ds = scratch.dataSource;
    ctx = await openEngineContext(testConfig({ databaseUrl: scratch.url }));
    claimer = ctx.get(StepClaimer, { strict: false });
    applier = ctx.get(ResultApplier, { strict: false });
    starter = ctx.get(RunStarter, { strict: false });
    [{ id: orgId }] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('claimer', 'claimer') RETURNING id`);
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await ctx?.close();
    await scratch?.drop();
  });

  const start = async (steps: DefinitionSpec['steps'], options: { extra?: Partial<DefinitionSpec>; input?: unknown; priority?: number } = {}) => {
    const slug = `claimer-${++n}`;
    await insertDefinition(ds, orgId, { slug, name: slug, steps, ...options.extra });
    const { run } = await starter.start({ organizationId: orgId, definition: slug, input: (options.input ?? {}) as never, priority: options.priority ?? 0 });
    return run.id;
  };
  /** Claims everything claimable now (this test's worker is the only one), keeping the steps of `runIds`. */
  const claim = async (runIds: string[], limit = 50, owner = 'w1'): Promise<ClaimedStep[]> =>
    (await claimer.claim(owner, limit, 15_000)).filter((c) => runIds.includes(c.runId));
  const complete = (step: ClaimedStep, output: unknown, owner = 'w1') =>
    applier.apply([
      { stepId: step.id, runId: step.runId, stepKey: step.stepKey, attempt: step.attempt, fenceOwner: owner, outcome: { kind: 'completed', output: output as never } },
    ]);
  const statuses = async (runId: string) =>
    Object.fromEntries(
      ((await ds.query(`SELECT step_key, status FROM orchestration_steps WHERE run_id = $1`, [runId])) as { step_key: string; status: string }[]).map(
        (r) => [r.step_key, r.status],
      ),
    );
  const drain = async () => {
    // Leaves no claimable step of earlier tests behind for the next one.
    for (let c = await claimer.claim('drain', 500, 15_000); c.length > 0; c = await claimer.claim('drain', 500, 15_000));
  };
  beforeEach(drain);

  it('starts a ready step under the lease: running, owned, attempt + 1, a step.started event, the input rendered', async () => {
    const runId = await start([{ key: 'a', agent: 'echo', input: { text: '{{ input.name }}', fixed: 1 } }], { input: { name: 'ada' } });
    const [step] = await claim([runId]);
    expect(step).toMatchObject({ runId, stepKey: 'a', attempt: 1, agentSlug: 'echo', input: { text: 'ada', fixed: 1 } });
    const [row] = await ds.query(
      `SELECT status, lease_owner, attempt, lease_expires_at > now() + interval '10 seconds' AS leased FROM orchestration_steps WHERE id = $1`,
      [step.id],
    );
    expect(row).toEqual({ status: 'running', lease_owner: 'w1', attempt: 1, leased: true });
    const events = await ds.query(`SELECT type, step_key, payload FROM orchestration_events WHERE run_id = $1 AND type = 'step.started'`, [runId]);
    expect(events).toEqual([{ type: 'step.started', step_key: 'a', payload: { attempt: 1, worker: 'w1' } }]);
    expect(await claim([runId])).toEqual([]);
  });

  it('renders a dependent from its upstream outputs, and only once they completed', async () => {
    const runId = await start([
      { key: 'a', agent: 'echo' },
      { key: 'b', agent: 'echo', dependsOn: ['a'], input: { got: '{{ steps.a.output.value }}' } },
    ]);
    const [a] = await claim([runId]);
    expect(a.stepKey).toBe('a');
    expect(await claim([runId])).toEqual([]);
    await complete(a, { value: 42 });
    const [b] = await claim([runId]);
    expect(b).toMatchObject({ stepKey: 'b', input: { got: 42 } });
  });

  it('reports a template that cannot render as the step input error, not as a thrown claim', async () => {
    const runId = await start([{ key: 'a', agent: 'echo', input: { bad: '{{ steps.nope.output }}' } }]);
    const [a] = await claim([runId]);
    expect(a.inputError).toBeTruthy();
  });

  it('takes higher-priority runs first when it cannot take everything', async () => {
    const low = await start([{ key: 'a', agent: 'echo' }], { priority: 0 });
    const high = await start([{ key: 'a', agent: 'echo' }], { priority: 10 });
    const taken = await claim([low, high], 1);
    expect(taken.map((s) => s.runId)).toEqual([high]);
    expect((await claim([low, high])).map((s) => s.runId)).toEqual([low]);
  });

  it("keeps a run's concurrency: a fan-out of 3 under concurrency 1 runs one step at a time", async () => {
    const runId = await start(
      [
        { key: 'a', agent: 'echo' },
        { key: 'b', agent: 'echo' },
        { key: 'c', agent: 'echo' },
      ],
      { extra: { concurrency: 1 } },
    );
    const first = await claim([runId]);
    expect(first).toHaveLength(1);
    expect(await claim([runId])).toEqual([]);
    await complete(first[0], {});
    expect(await claim([runId])).toHaveLength(1);
  });

  it("keeps an agent's maxConcurrency across runs", async () => {
    await ds.query(
      `INSERT INTO agents (organization_id, slug, name, type, config) VALUES ($1, 'limited', 'limited', 'a2a', '{"url": "http://127.0.0.1:9/", "maxConcurrency": 1}')`,
      [orgId],
    );
    const one = await start([{ key: 'a', agent: 'limited' }]);
    const two = await start([{ key: 'a', agent: 'limited' }]);
    const taken = await claim([one, two]);
    expect(taken).toHaveLength(1);
    expect(await claim([one, two])).toEqual([]);
    await complete(taken[0], {});
    expect(await claim([one, two])).toHaveLength(1);
  });

  it('skips a run another transaction holds locked (SKIP LOCKED) and takes it once released', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`SELECT id FROM orchestration_runs WHERE id = $1 FOR UPDATE`, [runId]);
      expect(await claim([runId])).toEqual([]);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    expect(await claim([runId])).toHaveLength(1);
  });

  it('locks only the runs it can fill, leaving the rest of a backlog to a concurrent claim', async () => {
    const steps = ['a', 'b', 'c'].map((key) => ({ key, agent: 'echo' }));
    const runIds = [await start(steps), await start(steps), await start(steps), await start(steps)];
    let release = () => undefined as void;
    let paused = () => undefined as void;
    const holding = new Promise<void>((resolve) => (paused = resolve));
    faultPoints.arm('engine.claim.afterCandidates', () => {
      paused();
      return new Promise<void>((resolve) => (release = resolve));
    });
    // The first claim holds its run locks (paused before it starts anything) while the second one claims.
    const first = claim(runIds, 3, 'w1');
    await holding;
    const second = await claim(runIds, 3, 'w2');
    release();
    const firstClaimed = await first;
    expect(firstClaimed).toHaveLength(3);
    expect(second).toHaveLength(3);
    expect(new Set([...firstClaimed, ...second].map((c) => c.id)).size).toBe(6);
    expect(new Set(second.map((c) => c.runId)).size).toBe(1);
  });

  it('leaves the steps ready when the claim fails after reading its candidates (nothing half-claimed)', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    faultPoints.arm('engine.claim.afterCandidates', () => {
      throw new Error('injected: claim failed after the candidates');
    });
    await expect(claimer.claim('w1', 10, 15_000)).rejects.toThrow('injected');
    expect(await statuses(runId)).toEqual({ a: 'ready' });
    expect(await ds.query(`SELECT count(*)::int AS n FROM orchestration_events WHERE run_id = $1 AND type = 'step.started'`, [runId])).toEqual([{ n: 0 }]);
    expect(await claim([runId])).toHaveLength(1);
  });

  it('leaves the steps ready when the connection is lost during the claim', async () => {
    const runId = await start([{ key: 'a', agent: 'echo' }]);
    faultPoints.arm('engine.claim.afterCandidates', async (client) => {
      const [{ pid }] = (await (client as { query: (q: string) => Promise<{ rows: { pid: number }[] }> }).query('SELECT pg_backend_pid() AS pid')).rows;
      await ds.query('SELECT pg_terminate_backend($1)', [pid]);
    });
    await expect(claimer.claim('w1', 10, 15_000)).rejects.toThrow();
    expect(await statuses(runId)).toEqual({ a: 'ready' });
    expect(await claim([runId])).toHaveLength(1);
  });
});
