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
import { DefinitionCache, type CompiledStep } from '../compiled-definition.js';
import { commitWith, EngineDatabase, together, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import {
  lockRuns,
  notify,
  promoteReady,
  recordStepUsage,
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
import { terminateRuns, type RunTermination } from '../transitions/run-termination.transition.js';
import { stepOutcomeTransition, type StepTransition } from '../transitions/step-outcome.transition.js';
import { recordBreakerChanges, type BreakerChangeAt } from './breaker-recorder.js';
import { StepClaimer, type ClaimedStep, type KnownOutputs } from './step-claimer.js';
import type { StepResult } from './step-outcome.js';

export interface ApplySummary {
  applied: number;
  discarded: number;
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
  ) {}

  /** Applies a worker's (or the reaper's) batch on the worker connections. */
  apply(results: StepResult[], fast?: FastClaim | null): Promise<ApplySummary> {
    return this.db.tx((client) => this.applyIn(client, results, fast), this.db.workerPool);
  }

  async applyIn(client: Queryable, results: StepResult[], fast?: FastClaim | null): Promise<ApplySummary> {
    const runIds = [...new Set(results.map((r) => r.runId))];
    // One round trip: the server reads the steps after it has locked their runs (a pipeline runs in order).
    const [runs, steps] = await together([lockRuns(client, runIds), stepsById(client, [...new Set(results.map((r) => r.stepId))])]);
    const batch = new BatchEffects();
    const seen = new Set<string>();
    for (const result of results) {
      const run = runs.get(result.runId);
      const step = steps.get(result.stepId);
      const once = result.outcome.kind === 'progress' || !seen.has(result.stepId);
      if (!run || !step || !fenced(run, step, result) || !once) {
        batch.discarded++;
        continue;
      }
      if (result.outcome.kind !== 'progress') seen.add(result.stepId);
      const compiled = result.outcome.kind === 'progress' ? undefined : (await this.definitions.get(run.definition_id)).steps.get(step.step_key);
      const base = { runId: run.id, organizationId: run.organization_id, stepKey: step.step_key };
      const outcome = result.outcome;
      if ((outcome.kind === 'completed' || outcome.kind === 'failed') && outcome.breaker) batch.breakerChanges.push({ ...base, change: outcome.breaker });
      if (outcome.kind === 'completed' && outcome.usage) batch.usages.push({ id: step.id, usage: outcome.usage });
      batch.add(run, step, compiled, stepOutcomeTransition(step, result.outcome, compiled, base));
    }
    return this.write(client, runs, batch, results.length, fast);
  }

  /** Writes what a batch's transitions decided, then the run-level effects: checkpoints, releases, run ends. */
  private async write(
    client: Queryable,
    runs: Map<string, RunRow>,
    batch: BatchEffects,
    total: number,
    fast?: FastClaim | null,
  ): Promise<ApplySummary> {
    const { events, failedRuns, finished } = batch;
    await updateSteps(client, batch.updates);
    await recordStepUsage(client, batch.usages);
    await recordBreakerChanges(client, batch.breakerChanges, events);
    await this.checkpoints.open(client, batch.opening, events);
    const live = [...batch.releases.values()].filter((r) => !failedRuns.has(r.runId));
    const fastClaim = fast && fast.limit > 0 ? fast : null;
    const released = await this.release(client, runs, live, !fastClaim, events);
    for (const runId of failedRuns.keys()) finished.delete(runId);
    await this.failRuns(client, runs, failedRuns, events);
    await this.completeFinishedRuns(client, runs, finished, events);
    const { claimed, applied } = await this.startReleased(client, runs, released, fastClaim, events, batch.known);
    commitWith(client, applied, appendEvents(client, events));
    if (released.length > claimed.length || batch.nextRetryInMs !== null) await notify(client, WORK_CHANNEL);
    return { applied: total - batch.discarded, discarded: batch.discarded, nextRetryInMs: batch.nextRetryInMs, claimed };
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
    return released;
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
      released.filter((r) => !started.has(r.id)).map((r) => r.id),
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
    await terminateRuns(client, terminations, events);
  }

  /** Counts finished steps down and completes the runs that reach zero, computing their output. */
  completeFinishedRuns(client: Queryable, runs: Map<string, RunRow>, finished: Map<string, number>, events: NewEvent[]): Promise<void> {
    return completeFinishedRuns(client, this.definitions, runs, finished, events);
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

/** What the transitions of one batch add up to, run by run. */
class BatchEffects {
  readonly events: NewEvent[] = [];
  readonly updates: StepUpdate[] = [];
  readonly releases = new Map<string, { runId: string; stepKey: string; n: number }>();
  readonly finished = new Map<string, number>();
  readonly failedRuns = new Map<string, { stepKey: string; error: JsonValue }>();
  readonly opening: OpeningCheckpoint[] = [];
  readonly known: KnownOutputs = new Map();
  /** Tokens and cost the batch's completed attempts reported (stored on their steps). */
  readonly usages: { id: string; usage: AgentUsage }[] = [];
  /** Circuit-breaker state changes the batch's attempts caused (published on the agents, logged as events). */
  readonly breakerChanges: BreakerChangeAt[] = [];
  discarded = 0;
  nextRetryInMs: number | null = null;

  add(run: RunRow, step: StepRow, compiled: CompiledStep | undefined, transition: StepTransition): void {
    this.events.push(...transition.events);
    switch (transition.kind) {
      case 'progress':
        return;
      case 'checkpoint':
        this.updates.push(transition.update);
        this.opening.push({
          run,
          stepId: step.id,
          stepKey: step.step_key,
          attempt: step.attempt,
          output: transition.output,
          spec: (compiled as CompiledStep).spec,
        });
        return;
      case 'completed':
        this.updates.push(transition.update);
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
        this.failedRuns.set(run.id, { stepKey: step.step_key, error: transition.error });
        return;
      default:
        assertUnreachable(transition, 'step transition');
    }
  }
}
