import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { openTestDataSource } from '#testing';
import { OrchestrationRunEntity } from '../entities/orchestration-run.entity.js';
import { OrchestrationStepEntity } from '../entities/orchestration-step.entity.js';
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
    runs = new RunsRepository(ds.getRepository(OrchestrationRunEntity));
    steps = new StepsRepository(ds.getRepository(OrchestrationStepEntity));
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

  it("never reads another organization's steps", async () => {
    const mine = await fixture(ds, runs, 'steps-tenant-a');
    const theirs = await fixture(ds, runs, 'steps-tenant-b');
    await steps.createForRun(mine.orgId, mine.runId, DIAMOND);
    expect(await steps.listForRun(theirs.orgId, mine.runId)).toEqual([]);
    expect(await steps.findByKey(theirs.orgId, mine.runId, 'fetch')).toBeNull();
    expect((await steps.listForRun(mine.orgId, mine.runId)).map((s) => s.stepKey)).toEqual(['fetch', 'analyze', 'audit', 'report']);
  });
});
