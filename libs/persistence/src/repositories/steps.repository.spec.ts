import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openTestDataSource } from '#testing';
import type { OrchestrationStepEntity } from '../entities/orchestration-step.entity.js';
import { RunsRepository } from './runs.repository.js';
import { StepsRepository, type NewStep } from './steps.repository.js';

interface Fixture {
  orgId: string;
  runId: string;
}

/** An organization, a definition (plain SQL) and one run of it. */
async function fixture(ds: DataSource, runs: RunsRepository, label: string): Promise<Fixture> {
  const slug = `${label}-${randomUUID().slice(0, 8)}`;
  const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ($1, $1) RETURNING id`, [slug]);
  const [definition] = await ds.query(
    `INSERT INTO orchestration_definitions (organization_id, slug, version, name, spec) VALUES ($1, $2, 1, $2, '{}') RETURNING id`,
    [org.id, slug],
  );
  const run = await runs.create(org.id, { definitionId: definition.id, definitionSlug: slug, definitionVersion: 1, input: {} });
  return { orgId: org.id, runId: run.id };
}

const step = (stepKey: string, position: number, dependsOn: string[] = [], extra: Partial<NewStep> = {}): NewStep => ({
  stepKey,
  position,
  type: 'agent',
  agentSlug: 'echo',
  dependsOn,
  maxAttempts: 3,
  ...extra,
});

/** fetch -> (analyze, audit) -> report; given out of order to prove `position` orders them. */
const DIAMOND = [step('report', 3, ['analyze', 'audit']), step('fetch', 0), step('audit', 2, ['fetch']), step('analyze', 1, ['fetch'])];

const byKey = (steps: OrchestrationStepEntity[]) => Object.fromEntries(steps.map((s) => [s.stepKey, s]));

describe('StepsRepository (PostgreSQL)', () => {
  let ds: DataSource;
  let runs: RunsRepository;
  let steps: StepsRepository;

  beforeAll(async () => {
    ds = await openTestDataSource(4);
    runs = new RunsRepository(ds);
    steps = new StepsRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('creates steps without dependencies ready and the others pending with their dependency count', async () => {
    const f = await fixture(ds, runs, 'steps-create');
    const created = await steps.createForRun(f.orgId, f.runId, [
      ...DIAMOND,
      step('side', 4, [], { input: { n: 1 }, reversible: true, rollback: { agent: 'undo' } }),
    ]);
    expect(created).toHaveLength(5);
    const s = byKey(await steps.listForRun(f.orgId, f.runId));
    expect(s.fetch).toMatchObject({ status: 'ready', pendingDependencies: 0, attempt: 0, maxAttempts: 3, dependsOn: [] });
    expect(s.fetch.nextAttemptAt).toBeInstanceOf(Date);
    expect(s.side).toMatchObject({ status: 'ready', input: { n: 1 }, reversible: true, rollback: { agent: 'undo' } });
    expect(s.analyze).toMatchObject({ status: 'pending', pendingDependencies: 1, dependsOn: ['fetch'], nextAttemptAt: null });
    expect(s.report).toMatchObject({ status: 'pending', pendingDependencies: 2, dependsOn: ['analyze', 'audit'] });
  });

  it('lists the steps of a run by position and finds one by key', async () => {
    const f = await fixture(ds, runs, 'steps-order');
    await steps.createForRun(f.orgId, f.runId, DIAMOND);
    expect((await steps.listForRun(f.orgId, f.runId)).map((s) => s.stepKey)).toEqual(['fetch', 'analyze', 'audit', 'report']);
    expect((await steps.findByKey(f.orgId, f.runId, 'audit'))?.position).toBe(2);
    expect(await steps.findByKey(f.orgId, f.runId, 'missing')).toBeNull();
  });

  it('rejects two steps with the same key in one run', async () => {
    const f = await fixture(ds, runs, 'steps-dup');
    await expect(steps.createForRun(f.orgId, f.runId, [step('a', 0), step('a', 1)])).rejects.toMatchObject({ code: '23505' });
  });

  it('finds dependents and releases them as their dependencies complete', async () => {
    const f = await fixture(ds, runs, 'steps-deps');
    await steps.createForRun(f.orgId, f.runId, DIAMOND);
    expect((await steps.dependents(f.orgId, f.runId, 'fetch')).map((s) => s.stepKey)).toEqual(['analyze', 'audit']);
    expect((await steps.dependents(f.orgId, f.runId, 'analyze')).map((s) => s.stepKey)).toEqual(['report']);
    expect(await steps.dependents(f.orgId, f.runId, 'report')).toEqual([]);
    expect(await steps.unblocked(f.orgId, f.runId)).toEqual([]); // fetch is ready, not pending

    expect((await steps.releaseDependents(f.orgId, f.runId, 'fetch')).sort()).toEqual(['analyze', 'audit']);
    expect((await steps.unblocked(f.orgId, f.runId)).map((s) => s.stepKey)).toEqual(['analyze', 'audit']);
    expect(await steps.releaseDependents(f.orgId, f.runId, 'analyze')).toEqual([]); // report still waits for audit
    expect((await steps.findByKey(f.orgId, f.runId, 'report'))?.pendingDependencies).toBe(1);
    expect(await steps.releaseDependents(f.orgId, f.runId, 'audit')).toEqual(['report']);
    expect((await steps.unblocked(f.orgId, f.runId)).map((s) => s.stepKey)).toEqual(['analyze', 'audit', 'report']);
  });

  it('starts an attempt only from ready: attempt + 1 under a fresh lease', async () => {
    const f = await fixture(ds, runs, 'steps-attempt');
    const [created] = await steps.createForRun(f.orgId, f.runId, [step('only', 0)]);
    const attempt = await steps.beginAttempt(f.orgId, created.id, 'worker-1', 30_000);
    expect(attempt).toBe(1);
    const [{ now }] = await ds.query(`SELECT now() AS now`);
    const running = await steps.findByKey(f.orgId, f.runId, 'only');
    expect(running).toMatchObject({ status: 'running', attempt: 1, leaseOwner: 'worker-1' });
    expect(running?.startedAt).toBeInstanceOf(Date);
    const leaseLeft = (running?.leaseExpiresAt?.getTime() ?? 0) - (now as Date).getTime();
    expect(leaseLeft).toBeGreaterThan(25_000);
    expect(leaseLeft).toBeLessThanOrEqual(30_000);

    expect(await steps.beginAttempt(f.orgId, created.id, 'worker-2', 30_000)).toBeNull(); // already running
    expect((await steps.findByKey(f.orgId, f.runId, 'only'))?.leaseOwner).toBe('worker-1');

    // A retry puts it back to ready and gives up the lease; the next attempt is number 2.
    expect(await steps.transition(f.orgId, created.id, 'ready', { error: { message: 'boom' }, nextAttemptAt: new Date() })).toBe(true);
    expect(await steps.findByKey(f.orgId, f.runId, 'only')).toMatchObject({
      status: 'ready',
      attempt: 1,
      leaseOwner: null,
      leaseExpiresAt: null,
      error: { message: 'boom' },
    });
    expect(await steps.beginAttempt(f.orgId, created.id, 'worker-2', 1_000)).toBe(2);
    expect(await steps.findByKey(f.orgId, f.runId, 'only')).toMatchObject({ attempt: 2, leaseOwner: 'worker-2' });
  });

  it('lets only one of several workers begin the same attempt', async () => {
    const f = await fixture(ds, runs, 'steps-race');
    const [created] = await steps.createForRun(f.orgId, f.runId, [step('only', 0)]);
    const results = await Promise.all(['w1', 'w2', 'w3'].map((w) => steps.beginAttempt(f.orgId, created.id, w, 10_000)));
    expect(results.filter((r) => r !== null)).toEqual([1]);
  });

  it('applies only the transitions the step state machine allows (compare-and-set)', async () => {
    const f = await fixture(ds, runs, 'steps-cas');
    await steps.createForRun(f.orgId, f.runId, [step('a', 0), step('b', 1, ['a'])]);
    const { a, b } = byKey(await steps.listForRun(f.orgId, f.runId));

    expect(await steps.transition(f.orgId, b.id, 'running')).toBe(false); // pending cannot run
    expect(await steps.transition(f.orgId, b.id, 'completed', { output: { x: 1 } })).toBe(false);
    expect(await steps.transition(f.orgId, a.id, 'pending')).toBe(false); // nothing goes back to pending
    expect(await steps.findByKey(f.orgId, f.runId, 'b')).toMatchObject({ status: 'pending', output: null, completedAt: null });

    expect(await steps.transition(f.orgId, a.id, 'running')).toBe(true);
    expect(await steps.transition(f.orgId, a.id, 'completed', { output: { rows: [1, 2] } })).toBe(true);
    const done = await steps.findByKey(f.orgId, f.runId, 'a');
    expect(done).toMatchObject({ status: 'completed', output: { rows: [1, 2] }, leaseOwner: null, leaseExpiresAt: null });
    expect(done?.completedAt).toBeInstanceOf(Date);
    expect(await steps.transition(f.orgId, a.id, 'failed', { error: { late: true } })).toBe(false); // terminal
    expect(await steps.findByKey(f.orgId, f.runId, 'a')).toMatchObject({ status: 'completed', error: null });

    expect(await steps.transition(f.orgId, b.id, 'skipped')).toBe(true);
    expect(await steps.transition(f.orgId, b.id, 'ready')).toBe(false);
  });

  it('counts the steps of a run by status', async () => {
    const f = await fixture(ds, runs, 'steps-count');
    await steps.createForRun(f.orgId, f.runId, DIAMOND);
    const fetch = await steps.findByKey(f.orgId, f.runId, 'fetch');
    await steps.beginAttempt(f.orgId, fetch!.id, 'w', 5_000);
    await steps.transition(f.orgId, fetch!.id, 'completed', { output: {} });
    await steps.releaseDependents(f.orgId, f.runId, 'fetch');
    const analyze = await steps.findByKey(f.orgId, f.runId, 'analyze');
    await steps.transition(f.orgId, analyze!.id, 'ready');
    expect(await steps.countByStatus(f.orgId, f.runId)).toEqual({ completed: 1, ready: 1, pending: 2 });
  });

  it("never reads or writes another organization's steps", async () => {
    const mine = await fixture(ds, runs, 'steps-tenant-a');
    const theirs = await fixture(ds, runs, 'steps-tenant-b');
    await steps.createForRun(mine.orgId, mine.runId, DIAMOND);
    const fetch = (await steps.findByKey(mine.orgId, mine.runId, 'fetch'))!;

    expect(await steps.listForRun(theirs.orgId, mine.runId)).toEqual([]);
    expect(await steps.findByKey(theirs.orgId, mine.runId, 'fetch')).toBeNull();
    expect(await steps.dependents(theirs.orgId, mine.runId, 'fetch')).toEqual([]);
    expect(await steps.unblocked(theirs.orgId, mine.runId)).toEqual([]);
    expect(await steps.countByStatus(theirs.orgId, mine.runId)).toEqual({});
    expect(await steps.beginAttempt(theirs.orgId, fetch.id, 'w', 5_000)).toBeNull();
    expect(await steps.transition(theirs.orgId, fetch.id, 'cancelled')).toBe(false);
    expect(await steps.releaseDependents(theirs.orgId, mine.runId, 'fetch')).toEqual([]);
    expect(await steps.countByStatus(mine.orgId, mine.runId)).toEqual({ ready: 1, pending: 3 });
    expect((await steps.findByKey(mine.orgId, mine.runId, 'analyze'))?.pendingDependencies).toBe(1);
  });
});
