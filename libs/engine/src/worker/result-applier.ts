/**
 * Applies a batch of step results in one transaction (one commit for many steps is where throughput comes from).
 * Invariants:
 * - fencing: an outcome is applied only if the step is still `running` under the same lease owner and attempt;
 *   anything else (cancelled meanwhile, lease reclaimed, duplicate) is discarded;
 * - dependents whose last dependency completes become ready in this same transaction;
 * - a final failure fails the run and cancels its unfinished steps (running ones are told to abort);
 * - every transition appends its event here, in the same transaction.
 * What each outcome does is decided by ../transitions/ (pure, checked against the state machine); this file
 * fences, batches and writes.
 */
import { Injectable } from '@nestjs/common';
import type { AgentUsage } from '#agents';
import { assertUnreachable, type JsonValue, TERMINAL_RUN_STATUSES } from '#core';
import { WORK_CHANNEL } from '#events';
import { DefinitionCache, stepOf, type CompiledStep } from '../compiled-definition.js';
import { commitWith, EngineDatabase, together, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import { childResults, liveChildren, updateChildCounters, waitingSteps } from '../store/child-run.repository.js';
import { insertGroupTurns, type NewGroupTurn } from '../store/group-turn.repository.js';
import { releaseNextRollbacks } from '../store/compensation.repository.js';
import { storeCached, type CacheWrite } from '../store/step-cache.repository.js';
import {
  completeAndRelease,
  countDownRemaining,
  lockRuns,
  lockRunsForApply,
  notify,
  promoteReady,
  recordStepUsage,
  addRunUsage,
  releaseDependents,
  stepsById,
  updateSteps,
  type ReleasedStep,
  type RunRow,
  type StepRow,
  type StepUpdate,
} from '../store/step-transition.repository.js';
import { CheckpointOpener, type OpeningCheckpoint } from '../transitions/checkpoint-opener.js';
import { completeFinishedRuns, completeRuns } from '../transitions/run-completion.transition.js';
import { childrenOutput, settleChildren } from '../transitions/child-settlement.transition.js';
import { takeEndedChildren, type FinishedChild } from '../transitions/finished-children.js';
import { cancelRuns, terminateRuns, type RunTermination } from '../transitions/run-termination.transition.js';
import { stepOutcomeTransition, type StepTransition } from '../transitions/step-outcome.transition.js';
import { recordBreakerChanges, type BreakerChangeAt } from './breaker-recorder.js';
import { ChildSpawner, type SpawnedChildren } from './child-spawner.js';
import { StepClaimer, type ClaimedStep, type KnownOutputs } from './step-claimer.js';
import type { StepOutcome, StepResult } from './step-outcome.js';

export interface ApplySummary {
  applied: number;
  discarded: number;
  /** The results fencing discarded (their `settled` hears false once the transaction commits). */
  rejected: ReadonlySet<StepResult>;
  /** Earliest delay of a retry scheduled by this batch, so the worker can wake up for it. */
  nextRetryInMs: number | null;
  /** Dependents made ready by this batch and started at once for the calling worker (see FastClaim). */
  claimed: ClaimedStep[];
}

/**
 * The calling worker's free capacity: dependents that become ready are started for it in the same
 * transaction, saving a claim transaction and a NOTIFY round trip per DAG level.
 */
export interface FastClaim {
  workerId: string;
  leaseMs: number;
  limit: number;
}

@Injectable()
export class ResultApplier {
  constructor(
    private readonly db: EngineDatabase,
    private readonly definitions: DefinitionCache,
    private readonly checkpoints: CheckpointOpener,
    private readonly claimer: StepClaimer,
    private readonly spawner: ChildSpawner,
  ) {}

  /** Applies a worker's (or the reaper's) batch on the worker connections. */
  apply(results: StepResult[], fast?: FastClaim | null): Promise<ApplySummary> {
    return this.db.tx((client) => this.applyIn(client, results, fast), this.db.workerPool);
  }

  async applyIn(client: Queryable, results: StepResult[], fast?: FastClaim | null): Promise<ApplySummary> {
    const runIds = [...new Set(results.map((r) => r.runId))];
    // One round trip: the server reads the steps after it has locked their runs (a pipeline runs in order).
    // Results of root runs only (the common case) reach no parent: a plain lock of their runs will do.
    const locking = results.every((r) => r.rootRun) ? lockRuns(client, runIds) : lockRunsForApply(client, runIds, mayEnd(results));
    const [runs, steps] = await together([locking, stepsById(client, [...new Set(results.map((r) => r.stepId))])]);
    const batch = new BatchEffects();
    const seen = new Set<string>();
    for (const result of results) {
      const run = runs.get(result.runId);
      const step = steps.get(result.stepId);
      // Progress and group turns leave the step running: several may come before its one final outcome.
      const ongoing = result.outcome.kind === 'progress' || result.outcome.kind === 'turn';
      if (!run || !step || !fenced(run, step, result) || !(ongoing || !seen.has(result.stepId))) {
        batch.discarded++;
        batch.rejected.add(result);
        continue;
      }
      if (!ongoing) seen.add(result.stepId);
      const compiled = ongoing ? undefined : stepOf(await this.definitions.get(run.definition_id), step.step_key);
      const base = { runId: run.id, organizationId: run.organization_id, stepKey: step.step_key };
      const outcome = result.outcome;
      if ((outcome.kind === 'completed' || outcome.kind === 'failed' || outcome.kind === 'turn') && outcome.breaker)
        batch.breakerChanges.push({ ...base, change: outcome.breaker });
      if (outcome.kind === 'completed' && outcome.usage) batch.usages.push({ id: step.id, runId: run.id, usage: outcome.usage });
      const transition = stepOutcomeTransition(step, result.outcome, compiled, base);
      if (result.cache && transition.kind === 'completed')
        batch.cacheWrites.push({
          organizationId: run.organization_id,
          ...result.cache,
          output: transition.output,
          runId: run.id,
          stepKey: step.step_key,
        });
      batch.add(run, step, compiled, transition, outcome.kind === 'completed' ? outcome.usage : undefined);
    }
    return this.write(client, runs, batch, results.length, fast);
  }

  /** Writes what a batch's transitions decided and what follows (run ends, parent steps of ended children), then commits. */
  private async write(
    client: Queryable,
    runs: Map<string, RunRow>,
    batch: BatchEffects,
    total: number,
    fast?: FastClaim | null,
  ): Promise<ApplySummary> {
    const fastClaim = fast && fast.limit > 0 ? fast : null;
    const first = await this.effects(client, runs, batch, fastClaim);
    const settled = await this.settleChildren(
      client,
      batch.events,
      fastClaim && { ...fastClaim, limit: fastClaim.limit - first.claimed.length },
    );
    commitWith(client, first.applied, settled.applied, appendEvents(client, batch.events));
    if (first.wake || settled.wake) await notify(client, WORK_CHANNEL);
    const retries = [batch.nextRetryInMs, settled.nextRetryInMs].filter((n): n is number => n !== null);
    return {
      applied: total - batch.discarded,
      discarded: batch.discarded,
      rejected: batch.rejected,
      nextRetryInMs: retries.length > 0 ? Math.min(...retries) : null,
      claimed: [...first.claimed, ...settled.claimed],
    };
  }

  /**
   * The run-level effects of a batch's transitions: checkpoints, releases (started at once for `fast`), failed and
   * completed runs. Events go onto batch.events, left for the caller to append. `wake`: steps were made ready for
   * other workers (or retries scheduled), so the caller should NOTIFY.
   */
  private async effects(
    client: Queryable,
    runs: Map<string, RunRow>,
    batch: BatchEffects,
    fast: FastClaim | null,
  ): Promise<{ claimed: ClaimedStep[]; applied: Promise<unknown>; wake: boolean }> {
    const { events, failedRuns, finished } = batch;
    // Turns of group steps and outputs of real calls of caching steps: read by nothing below, they ride along.
    if (batch.turns.length > 0) commitWith(client, insertGroupTurns(client, batch.turns));
    if (batch.cacheWrites.length > 0) commitWith(client, storeCached(client, batch.cacheWrites));
    const live = [...batch.releases.values()].filter((r) => !failedRuns.has(r.runId));
    for (const runId of failedRuns.keys()) finished.delete(runId);
    // The common batch (steps completed or requeued; nothing failed, cancelled, compensated, paused at a checkpoint, no
    // usage or breaker change to record): one statement updates the steps, releases their dependents and counts the
    // runs' finished steps down. Otherwise each in turn, the count-down after the runs that end have ended.
    const plain = failedRuns.size === 0 && batch.cancelledRuns.length === 0 && batch.rollbacksDone.length === 0;
    const simple = plain && batch.usages.length === 0 && batch.breakerChanges.length === 0 && batch.opening.length === 0;
    let released: ReleasedStep[];
    let counted: Map<string, number> | null;
    if (simple) {
      ({ released, remaining: counted } = await completeAndRelease(client, batch.updates, live, !fast, finished));
      this.announceReleased(runs, released, events);
    } else {
      // Nothing below reads what these return, and the server runs a connection's statements in the order sent: they
      // go out with the next statement that is awaited (pipelined) and are checked at COMMIT (see commitWith).
      commitWith(
        client,
        updateSteps(client, batch.updates),
        recordStepUsage(client, batch.usages),
        addRunUsage(
          client,
          batch.usages.map((u) => ({ runId: u.runId, ...u.usage })),
        ),
      );
      // Steps started below in this transaction are checked against the run's spending including this batch's.
      for (const u of batch.usages) {
        const run = runs.get(u.runId);
        if (!run) continue;
        run.usage_total_tokens = Number(run.usage_total_tokens) + u.usage.inputTokens + u.usage.outputTokens;
        run.usage_cost_usd = Number(run.usage_cost_usd) + u.usage.costUsd;
      }
      await recordBreakerChanges(client, batch.breakerChanges, events);
      await this.checkpoints.open(client, batch.opening, events);
      [released, counted] = await together([
        this.release(client, runs, live, !fast, events),
        plain ? countDownRemaining(client, finished) : Promise.resolve(null),
      ]);
    }
    await this.advanceCompensation(
      client,
      runs,
      batch.rollbacksDone.filter((r) => !failedRuns.has(r.runId)),
      events,
    );
    await this.failRuns(client, runs, failedRuns, events);
    await terminateRuns(client, this.definitions, batch.cancelledRuns, events);
    await this.completeFinishedRuns(client, runs, finished, events, counted);
    const { claimed, applied } = await this.startReleased(client, runs, released, fast, events, batch.known);
    return { claimed, applied, wake: released.length > claimed.length || batch.nextRetryInMs !== null };
  }

  /**
   * Applies to their parent steps the ends of the child runs this transaction ended (see finished-children.ts), and
   * what follows from those (a parent run that completes or fails is a child too, perhaps), until none is left: every
   * caller that ends runs calls this before it appends its events. Returns what `effects` does, summed.
   */
  async settleChildren(
    client: Queryable,
    events: NewEvent[],
    fast?: FastClaim | null,
  ): Promise<{ claimed: ClaimedStep[]; applied: Promise<unknown>; wake: boolean; nextRetryInMs: number | null }> {
    const claimed: ClaimedStep[] = [];
    const applied: Promise<unknown>[] = [];
    let wake = false;
    let nextRetryInMs: number | null = null;
    for (let ended = takeEndedChildren(client); ended.length > 0; ended = takeEndedChildren(client)) {
      const runs = await lockRuns(client, [...new Set(ended.map((c) => c.parentRunId))]);
      const steps = await waitingSteps(client, [...new Set(ended.map((c) => c.parentStepId))]);
      const batch = new BatchEffects(events);
      const counters: { id: string; started: number; finished: number }[] = [];
      const spawns: { run: RunRow; stepId: string; start: number[] }[] = [];
      const giveUp: string[] = [];
      for (const [stepId, children] of groupByStep(ended)) {
        const step = steps.get(stepId);
        const run = step ? runs.get(step.run_id) : undefined;
        const settlement =
          run && !TERMINAL_RUN_STATUSES.includes(run.status) ? settleChildren(step, children) : ({ kind: 'ignore' } as const);
        if (!step || !run || settlement.kind === 'ignore') continue;
        const base = { runId: run.id, organizationId: run.organization_id, stepKey: step.step_key };
        for (const child of settlement.accepted)
          events.push({
            ...base,
            type: 'step.child_finished',
            payload: { attempt: step.attempt, childRunId: child.runId, index: child.itemIndex, status: child.status },
          });
        if (settlement.kind === 'cancelled') {
          const payload = { reason: 'child_cancelled', step: step.step_key, childRunId: settlement.child.runId };
          batch.cancelledRuns.push({ run, status: 'cancelled', error: payload, stepReason: 'child_cancelled', payload });
          continue;
        }
        const compiled = stepOf(await this.definitions.get(run.definition_id), step.step_key);
        let outcome: StepOutcome;
        if (settlement.kind === 'failed') {
          outcome = { kind: 'failed', error: settlement.error };
          giveUp.push(step.id);
        } else if (settlement.kind === 'done') {
          counters.push({ id: step.id, started: settlement.started, finished: settlement.finished });
          outcome = {
            kind: 'completed',
            output: childrenOutput(step.spawn as NonNullable<typeof step.spawn>, await childResults(client, step.id, step.attempt)),
          };
        } else {
          counters.push({ id: step.id, started: settlement.started, finished: settlement.finished });
          if (settlement.start.length > 0) spawns.push({ run, stepId: step.id, start: settlement.start });
          continue;
        }
        batch.add(
          run,
          { ...step, type: 'orchestration', lease_owner: null, lease_expired: false },
          compiled,
          stepOutcomeTransition(step, outcome, compiled, base),
        );
      }
      await updateChildCounters(client, counters);
      const children: SpawnedChildren = { runs: new Map(), ready: [] };
      for (const { run, stepId, start } of spawns) {
        const step = steps.get(stepId) as NonNullable<ReturnType<typeof steps.get>>;
        const parent = {
          runId: run.id,
          organizationId: run.organization_id,
          depth: run.depth,
          contextId: run.context_id,
          stepId,
          stepKey: step.step_key,
          attempt: step.attempt,
        };
        const inputs = step.spawn?.forEach ? (step.input as JsonValue[]) : [step.input];
        const spawned = await this.spawner.spawn(client, parent, step.spawn as NonNullable<typeof step.spawn>, inputs, start, events);
        for (const [id, child] of spawned.runs) children.runs.set(id, child);
        children.ready.push(...spawned.ready);
      }
      // The next children's first steps start here for the calling worker when it has room (else a worker is woken).
      const sub = await this.claimer.startChildren(
        client,
        fast?.workerId ?? '',
        fast ? fast.limit - claimed.length : 0,
        fast?.leaseMs ?? 0,
        children,
        events,
      );
      claimed.push(...sub.claimed);
      applied.push(sub.applied);
      const round = await this.effects(client, runs, batch, fast ? { ...fast, limit: fast.limit - claimed.length } : null);
      // A failed step's other children are of no use any more (a retry starts new ones): they are cancelled.
      await cancelRuns(
        client,
        this.definitions,
        await liveChildren(client, { stepIds: giveUp }),
        { reason: 'sibling_failed' },
        'parent_ended',
        events,
      );
      claimed.push(...round.claimed);
      applied.push(round.applied);
      wake ||= round.wake;
      if (batch.nextRetryInMs !== null)
        nextRetryInMs = nextRetryInMs === null ? batch.nextRetryInMs : Math.min(nextRetryInMs, batch.nextRetryInMs);
    }
    return { claimed, applied: together(applied), wake, nextRetryInMs };
  }

  /** After a rollback step completed: the next rollback of its run's chain becomes ready (step.compensating). */
  private async advanceCompensation(
    client: Queryable,
    runs: Map<string, RunRow>,
    done: { runId: string; key: string }[],
    events: NewEvent[],
  ): Promise<void> {
    const next = await releaseNextRollbacks(client, done);
    for (const step of next) {
      const run = runs.get(step.run_id) as RunRow;
      events.push(
        { ...base(run, step.step_key), type: 'step.ready', payload: { attempt: 1, compensates: compensated(step.step_key) } },
        { ...base(run, compensated(step.step_key)), type: 'step.compensating', payload: { rollbackStep: step.step_key } },
      );
    }
    if (next.length > 0) await notify(client, WORK_CHANNEL);
  }

  /** Counts dependents down (see releaseDependents) and announces each step that became startable (step.ready). */
  async release(
    client: Queryable,
    runs: Map<string, RunRow>,
    releases: { runId: string; stepKey: string; n: number }[],
    promote: boolean,
    events: NewEvent[],
  ): Promise<ReleasedStep[]> {
    const released = await releaseDependents(client, releases, promote);
    this.announceReleased(runs, released, events);
    return released;
  }

  /** One step.ready per released step. */
  private announceReleased(runs: Map<string, RunRow>, released: ReleasedStep[], events: NewEvent[]): void {
    for (const ready of released) {
      const run = runs.get(ready.run_id) as RunRow;
      events.push({
        runId: run.id,
        organizationId: run.organization_id,
        type: 'step.ready',
        stepKey: ready.step_key,
        payload: { attempt: 1 },
      });
    }
  }

  /**
   * Steps released without promotion (see releaseDependents), or made ready, of locked `runs`, best first: with
   * `fast`, starts as many as it allows for the calling worker in this transaction and makes the rest ready;
   * without, does nothing (they are ready already). Returns the steps started, to be run once the transaction
   * commits, and `applied`, to hand to commitWith with the caller's event append (see StepClaimer.claimLocked).
   */
  async startReleased(
    client: Queryable,
    runs: Map<string, RunRow>,
    released: ReleasedStep[],
    fast: FastClaim | null,
    events: NewEvent[],
    known?: KnownOutputs,
  ): Promise<{ claimed: ClaimedStep[]; applied: Promise<unknown> }> {
    if (!fast || released.length === 0) return { claimed: [], applied: Promise.resolve() };
    const live = new Map([...runs].filter(([, r]) => r.status === 'running' || r.status === 'awaiting_approval'));
    const startable = released.filter((r) => live.has(r.run_id));
    const claim = await this.claimer.claimLocked(client, fast.workerId, fast.limit, fast.leaseMs, live, startable, events, known);
    const started = new Set(claim.claimed.map((c) => c.id));
    const promoted = promoteReady(
      client,
      released.filter((r) => !started.has(r.id)),
    );
    return { claimed: claim.claimed, applied: together([claim.applied, promoted]) };
  }

  /** Fails each run, cancelling its unfinished steps; running ones are told to abort through NOTIFY. */
  async failRuns(
    client: Queryable,
    runs: Map<string, RunRow>,
    failed: Map<string, { stepKey: string; error: JsonValue }>,
    events: NewEvent[],
  ): Promise<void> {
    const terminations = [...failed].map(([id, f]): RunTermination => {
      const error = { step: f.stepKey, error: f.error };
      return { run: runs.get(id) as RunRow, status: 'failed', error, stepReason: 'run_failed', payload: { error } };
    });
    await terminateRuns(client, this.definitions, terminations, events);
  }

  /** Counts finished steps down and completes the runs that reach zero, computing their output. */
  completeFinishedRuns(
    client: Queryable,
    runs: Map<string, RunRow>,
    finished: Map<string, number>,
    events: NewEvent[],
    counted?: Map<string, number> | null,
  ): Promise<void> {
    return completeFinishedRuns(client, this.definitions, runs, finished, events, counted);
  }

  completeRuns(client: Queryable, runs: Map<string, RunRow>, runIds: string[], events: NewEvent[]): Promise<void> {
    return completeRuns(client, this.definitions, runs, runIds, events);
  }
}

/** Fencing: the step is still running under the result's lease owner and attempt, and its run is not finished. */
function fenced(run: RunRow, step: StepRow, result: StepResult): boolean {
  return (
    step.status === 'running' &&
    step.lease_owner === result.fenceOwner &&
    step.attempt === result.attempt &&
    !TERMINAL_RUN_STATUSES.includes(run.status) &&
    // the reaper may only take a lease that is still expired now that it holds the run lock
    (result.outcome.kind !== 'lease_lost' || step.lease_expired)
  );
}

/** At most how many steps each run of a batch may finish (a failure may end its run whatever the count: all of them). */
function mayEnd(results: StepResult[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of results) {
    if (r.outcome.kind === 'progress' || r.outcome.kind === 'turn') continue;
    const n = r.outcome.kind === 'completed' ? 1 : 1_000_000;
    counts.set(r.runId, (counts.get(r.runId) ?? 0) + n);
  }
  return counts;
}

const base = (run: RunRow, stepKey: string) => ({ runId: run.id, organizationId: run.organization_id, stepKey });
/** The step a rollback step undoes. */
const compensated = (rollbackStepKey: string) => rollbackStepKey.replace(/\.rollback$/, '');

function groupByStep(children: FinishedChild[]): Map<string, FinishedChild[]> {
  const out = new Map<string, FinishedChild[]>();
  for (const child of children) out.set(child.parentStepId, [...(out.get(child.parentStepId) ?? []), child]);
  return out;
}

/** What the transitions of one batch add up to, run by run. */
class BatchEffects {
  constructor(readonly events: NewEvent[] = []) {}
  /** Runs cancelled because a child run of theirs was (see child-settlement.transition.ts). */
  readonly cancelledRuns: RunTermination[] = [];
  /** Rollback steps that completed (saga compensation): the next of each chain starts. */
  readonly rollbacksDone: { runId: string; key: string }[] = [];
  readonly updates: StepUpdate[] = [];
  readonly releases = new Map<string, { runId: string; stepKey: string; n: number }>();
  readonly finished = new Map<string, number>();
  readonly failedRuns = new Map<string, { stepKey: string; error: JsonValue }>();
  readonly opening: OpeningCheckpoint[] = [];
  readonly known: KnownOutputs = new Map();
  /** Tokens and cost the batch's completed attempts reported (stored on their steps). */
  readonly usages: { id: string; runId: string; usage: AgentUsage }[] = [];
  /** Circuit-breaker state changes the batch's attempts caused (published on the agents, logged as events). */
  readonly breakerChanges: BreakerChangeAt[] = [];
  /** Group turns to record (group_turns), each with its step's attempt. */
  readonly turns: NewGroupTurn[] = [];
  readonly rejected = new Set<StepResult>();
  /** Completed outputs of steps that cache them (see store/step-cache.repository.ts). */
  readonly cacheWrites: CacheWrite[] = [];
  discarded = 0;
  nextRetryInMs: number | null = null;

  add(run: RunRow, step: StepRow, compiled: CompiledStep | undefined, transition: StepTransition, usage?: AgentUsage): void {
    this.events.push(...transition.events);
    if (transition.kind === 'turn' || transition.kind === 'completed' || transition.kind === 'checkpoint')
      if (transition.turn)
        this.turns.push({
          stepId: step.id,
          runId: run.id,
          organizationId: run.organization_id,
          attempt: step.attempt,
          turn: transition.turn,
        });
    switch (transition.kind) {
      case 'progress':
      case 'turn':
        return;
      case 'checkpoint':
        this.updates.push(transition.update);
        this.opening.push({
          run,
          stepId: step.id,
          stepKey: step.step_key,
          attempt: step.attempt,
          output: transition.output,
          spec: transition.approval
            ? { ...(compiled as CompiledStep).spec, approval: transition.approval }
            : (compiled as CompiledStep).spec,
          ...(usage ? { usage: { ...usage } } : {}),
        });
        return;
      case 'completed':
        this.updates.push(transition.update);
        if (step.type === 'rollback') {
          this.rollbacksDone.push({ runId: run.id, key: step.step_key });
          this.events.push({
            ...base(run, compensated(step.step_key)),
            type: 'step.compensated',
            payload: { rollbackStep: step.step_key, output: transition.output },
          });
        }
        this.known.set(run.id, (this.known.get(run.id) ?? new Map()).set(step.step_key, transition.output));
        this.finished.set(run.id, (this.finished.get(run.id) ?? 0) + 1);
        for (const dependent of compiled?.dependents ?? []) {
          const key = `${run.id}:${dependent}`;
          const entry = this.releases.get(key) ?? { runId: run.id, stepKey: dependent, n: 0 };
          entry.n++;
          this.releases.set(key, entry);
        }
        return;
      case 'requeued':
        this.updates.push(transition.update);
        this.nextRetryInMs = this.nextRetryInMs === null ? transition.delayMs : Math.min(this.nextRetryInMs, transition.delayMs);
        return;
      case 'failed':
        this.updates.push(transition.update);
        if (step.type === 'rollback')
          this.events.push({
            ...base(run, compensated(step.step_key)),
            type: 'step.compensated',
            payload: { rollbackStep: step.step_key, error: transition.error },
          });
        this.failedRuns.set(run.id, { stepKey: step.step_key, error: transition.error });
        return;
      default:
        assertUnreachable(transition, 'step transition');
    }
  }
}
