import type { INestApplicationContext } from '@nestjs/common';
import { jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { DomainError, DomainErrorCode, faultPoints, type DefinitionSpec, type JsonValue } from '#core';
import { insertDefinition, openEngineContext, openScratchDatabase, testConfig, type ScratchDatabase } from '#testing';
import { RunStarter } from '../runs/run-starter.service.js';
import { ResultApplier } from '../worker/result-applier.js';
import { StepClaimer, type ClaimedStep } from '../worker/step-claimer.js';
import { EngineDatabase } from '../store/engine-database.js';
import { ApprovalQueryService } from './approval-queries.service.js';
import { ApprovalService, type DecideCommand, type DecisionActor } from './approval.service.js';

/**
 * Checkpoint decisions against a real database, driven by hand (a scratch database, no running worker): a step with
 * an approval is claimed and completed by the test, and the service's decision is checked in the rows and events it
 * leaves, including when it must refuse and when its commit fails.
 */
describe('ApprovalService (PostgreSQL)', () => {
  let scratch: ScratchDatabase;
  let ds: DataSource;
  let ctx: INestApplicationContext;
  let approvals: ApprovalService;
  let claimer: StepClaimer;
  let applier: ResultApplier;
  let starter: RunStarter;
  let orgId: string;
  let otherOrgId: string;
  const users: Record<'ann' | 'bob' | 'viewer', DecisionActor> = {} as never;
  let n = 0;

  beforeAll(async () => {
    scratch = await openScratchDatabase('approvals');
    ds = scratch.dataSource;
    ctx = await openEngineContext(testConfig({ databaseUrl: scratch.url }));
    approvals = ctx.get(ApprovalService, { strict: false });
    claimer = ctx.get(StepClaimer, { strict: false });
    applier = ctx.get(ResultApplier, { strict: false });
    starter = ctx.get(RunStarter, { strict: false });
    [{ id: orgId }] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('approvals', 'approvals') RETURNING id`);
    [{ id: otherOrgId }] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('approvals-other', 'other') RETURNING id`);
    for (const [name, role] of [['ann', 'approver'], ['bob', 'approver'], ['viewer', 'viewer']] as const) {
      const email = `${name}@approvals.test`;
      const [{ id }] = await ds.query(
        `INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, $2, 'x', $3) RETURNING id`,
        [orgId, email, role],
      );
      users[name] = { type: 'user', id, userId: id, role, email };
    }
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await ctx?.close();
    await scratch?.drop();
  });

  /** A run of draft (with the approval) -> publish, paused at draft's checkpoint; returns the run and approval ids. */
  const paused = async (approval: Record<string, unknown> = {}, output: JsonValue = { text: 'draft' }) => {
    const slug = `approvals-${++n}`;
    const steps: DefinitionSpec['steps'] = [
      { key: 'draft', agent: 'echo', approval: { prompt: 'Publish?', ...approval } },
      { key: 'publish', agent: 'echo', dependsOn: ['draft'] },
    ];
    await insertDefinition(ds, orgId, { slug, name: slug, steps });
    const { run } = await starter.start({ organizationId: orgId, definition: slug, input: {} });
    const [draft] = (await claimer.claim('w1', 50, 15_000)).filter((c) => c.runId === run.id);
    await complete(draft, output);
    const [row] = await ds.query(`SELECT id FROM human_approvals WHERE run_id = $1 AND status = 'pending'`, [run.id]);
    expect(row).toBeDefined();
    return { runId: run.id as string, approvalId: row.id as string };
  };
  const complete = (step: ClaimedStep, output: JsonValue) =>
    applier.apply([{ stepId: step.id, runId: step.runId, stepKey: step.stepKey, attempt: step.attempt, fenceOwner: 'w1', outcome: { kind: 'completed', output } }]);
  const decide = (approvalId: string, command: Partial<DecideCommand>) =>
    approvals.decide({ organizationId: orgId, approvalId, decision: 'continue', actor: users.ann, ...command });
  const state = async (runId: string) => {
    const [run] = await ds.query(`SELECT status FROM orchestration_runs WHERE id = $1`, [runId]);
    const steps = (await ds.query(`SELECT step_key, status, attempt, manual_input, output FROM orchestration_steps WHERE run_id = $1 ORDER BY position`, [
      runId,
    ])) as { step_key: string; status: string; attempt: number; manual_input: unknown; output: unknown }[];
    const events = ((await ds.query(`SELECT type FROM orchestration_events WHERE run_id = $1 ORDER BY seq`, [runId])) as { type: string }[]).map(
      (e) => e.type,
    );
    return { run: run.status as string, steps: Object.fromEntries(steps.map((s) => [s.step_key, s])), events };
  };
  const approvalRow = async (approvalId: string) =>
    (await ds.query(`SELECT status, decision, modifications, comment FROM human_approvals WHERE id = $1`, [approvalId]))[0];
  const rejection = async (promise: Promise<unknown>): Promise<DomainError> => {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  };

  it("locates an approval this instance opened without a read, for its own organization only, until it is decided", async () => {
    const queries = ctx.get(ApprovalQueryService, { strict: false });
    const pool = ctx.get(EngineDatabase, { strict: false }).pool;
    const { runId, approvalId } = await paused();
    const reads = jest.spyOn(pool, 'query');
    try {
      const slug = ((await ds.query(`SELECT definition_slug FROM orchestration_runs WHERE id = $1`, [runId])) as { definition_slug: string }[])[0];
      expect(await queries.locate(orgId, approvalId)).toEqual({ runId, definition: slug.definition_slug });
      expect(reads).not.toHaveBeenCalled();
      // Another organization's id for it is not found, as the read answers it.
      await expect(queries.locate(otherOrgId, approvalId)).rejects.toMatchObject({ code: DomainErrorCode.NotFound });
      expect(reads).toHaveBeenCalledTimes(1);
      // Decided (checkpoint.resolved), it is read again: same answer.
      await decide(approvalId, {});
      reads.mockClear();
      expect(await queries.locate(orgId, approvalId)).toEqual({ runId, definition: slug.definition_slug });
      expect(reads).toHaveBeenCalledTimes(1);
    } finally {
      reads.mockRestore();
    }
  });

  it('continue merges the modifications into the output, resumes the run and releases the dependent', async () => {
    const { runId, approvalId } = await paused({}, { text: 'draft', n: 1 });
    expect((await state(runId)).run).toBe('awaiting_approval');
    const result = await decide(approvalId, { modifications: { text: 'edited' }, comment: 'tightened' });
    expect(result).toMatchObject({ approvalId, runId, decision: 'continue', resolved: true });
    const after = await state(runId);
    expect(after.run).toBe('running');
    expect(after.steps.draft).toMatchObject({ status: 'completed', output: { text: 'edited', n: 1 } });
    expect(after.steps.publish.status).toBe('ready');
    expect(after.events.slice(-4)).toEqual(['checkpoint.resolved', 'step.completed', 'step.ready', 'run.resumed']);
    expect(await approvalRow(approvalId)).toEqual({ status: 'resolved', decision: 'continue', modifications: { text: 'edited' }, comment: 'tightened' });
  });

  it('retry makes the step ready again with the modifications merged into its input', async () => {
    const { runId, approvalId } = await paused();
    await decide(approvalId, { decision: 'retry', modifications: { hint: 'shorter' } });
    const after = await state(runId);
    // The rendered input of attempt 1 was {} (no template): the retry's input is it with the modifications merged in.
    expect(after.steps.draft).toMatchObject({ status: 'ready', attempt: 1, manual_input: { hint: 'shorter' } });
    expect(after.steps.publish.status).toBe('pending');
  });

  it('skip skips the step and releases the dependent; abort cancels the run and its open steps', async () => {
    const skipped = await paused();
    await decide(skipped.approvalId, { decision: 'skip' });
    expect((await state(skipped.runId)).steps).toMatchObject({ draft: { status: 'skipped' }, publish: { status: 'ready' } });

    const aborted = await paused();
    await decide(aborted.approvalId, { decision: 'abort' });
    const after = await state(aborted.runId);
    expect(after.run).toBe('cancelled');
    expect(after.steps.publish.status).toBe('cancelled');
    expect(after.events).toContain('run.cancelled');
  });

  it('refuses a second decision (409), a decision not offered (400) and modifications that fail the schema (400 with paths)', async () => {
    const { approvalId } = await paused({
      decisions: ['continue', 'abort'],
      modificationsSchema: { type: 'object', properties: { text: { type: 'string' } }, additionalProperties: false },
    });
    expect((await rejection(decide(approvalId, { decision: 'retry' }))).code).toBe(DomainErrorCode.ValidationFailed);
    const bad = await rejection(decide(approvalId, { modifications: { text: 3 } }));
    expect(bad.code).toBe(DomainErrorCode.ValidationFailed);
    expect(JSON.stringify(bad.details)).toContain('text');
    await decide(approvalId, {});
    expect((await rejection(decide(approvalId, { decision: 'abort' }))).code).toBe(DomainErrorCode.Conflict);
  });

  it('checks roles and assignees, and hides the approvals of other organizations', async () => {
    const { approvalId } = await paused({ assignees: ['bob@approvals.test'] });
    expect((await rejection(decide(approvalId, { actor: users.viewer }))).code).toBe(DomainErrorCode.Forbidden);
    expect((await rejection(decide(approvalId, { actor: users.ann }))).code).toBe(DomainErrorCode.Forbidden);
    expect((await rejection(decide(approvalId, { organizationId: otherOrgId, actor: users.bob }))).code).toBe(DomainErrorCode.NotFound);
    expect(await decide(approvalId, { actor: users.bob })).toMatchObject({ resolved: true });
  });

  it('waits for a quorum of distinct approvers; the same approver twice is a conflict', async () => {
    const { runId, approvalId } = await paused({ quorum: 2 });
    expect(await decide(approvalId, { actor: users.ann })).toMatchObject({ resolved: false, votes: 1, quorum: 2 });
    expect((await rejection(decide(approvalId, { actor: users.ann }))).code).toBe(DomainErrorCode.Conflict);
    expect((await state(runId)).run).toBe('awaiting_approval');
    expect(await decide(approvalId, { actor: users.bob })).toMatchObject({ resolved: true });
    expect((await state(runId)).steps.draft.status).toBe('completed');
  });

  it('applies a timeout only once the approval expired, with its onTimeout decision', async () => {
    const { runId, approvalId } = await paused({ timeoutMs: 60_000, onTimeout: 'skip' });
    const system: DecisionActor = { type: 'system', id: null, userId: null, role: null };
    expect((await rejection(approvals.decide({ organizationId: orgId, approvalId, reason: 'timeout', actor: system }))).code).toBe(
      DomainErrorCode.InvalidState,
    );
    await ds.query(`UPDATE human_approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, [approvalId]);
    expect(await approvals.decide({ organizationId: orgId, approvalId, reason: 'timeout', actor: system })).toMatchObject({ decision: 'skip' });
    expect((await state(runId)).steps.draft.status).toBe('skipped');
    expect((await approvalRow(approvalId)).status).toBe('expired');
  });

  it('leaves everything as it was when the commit fails, and the same decision then succeeds', async () => {
    const { runId, approvalId } = await paused();
    const before = await state(runId);
    faultPoints.arm('engine.tx.beforeCommit', () => {
      throw new Error('injected: commit failed');
    });
    await expect(decide(approvalId, { modifications: { text: 'x' } })).rejects.toThrow('injected');
    expect(await state(runId)).toEqual(before);
    expect((await approvalRow(approvalId)).status).toBe('pending');
    expect(await decide(approvalId, { modifications: { text: 'x' } })).toMatchObject({ resolved: true });
  });
});
