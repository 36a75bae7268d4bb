/**
 * Applies a batch of step results in one transaction (one commit for many steps is where throughput comes from).
 * Invariants:
 * - fencing: an outcome is applied only if the step is still `running` under the same lease owner and attempt;
 *   anything else (cancelled meanwhile, lease reclaimed, duplicate) is discarded;
 * - dependents whose last dependency completes become ready in this same transaction;
 * - a final failure fails the run and cancels its unfinished steps (running ones are told to abort);
 * - every transition appends its event here, in the same transaction.
 */
import { Injectable } from '@nestjs/common';
import type { AgentUsage } from '#agents';
import { type JsonValue, type RunStatus, TERMINAL_RUN_STATUSES } from '#core';
import { CANCEL_CHANNEL, WORK_CHANNEL } from '#events';
import { retryDelayMs } from '../backoff.js';
import { DefinitionCache } from '../compiled-definition.js';
import { runOutput } from '../run-outcome.js';
import { commitWith, EngineDatabase, together, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import {
  cancelOpenSteps,
  countDownRemaining,
  finishRuns,
  lockRuns,
  notify,
  promoteReady,
  recordStepUsage,
  releaseDependents,
  stepOutputs,
  stepsById,
  updateSteps,
  type ReleasedStep,
  type RunRow,
  type StepUpdate,
} from '../store/step-transition.repository.js';
import { CheckpointOpener, type OpeningCheckpoint } from '../approvals/checkpoint-opener.js';
import { expireApprovalsOfRuns } from '../store/approval.repository.js';
import { StepClaimer, type ClaimedStep, type KnownOutputs } from './step-claimer.js';
import { MAX_LEASE_LOSSES, type StepResult } from './step-outcome.js';

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
    const events: NewEvent[] = [];
    const updates: StepUpdate[] = [];
    const usages: { id: string; usage: AgentUsage }[] = [];
    const releases = new Map<string, { runId: string; stepKey: string; n: number }>();
    const finished = new Map<string, number>();
    const failedRuns = new Map<string, { stepKey: string; error: JsonValue }>();
    const seen = new Set<string>();
    const opening: OpeningCheckpoint[] = [];
    const known: KnownOutputs = new Map();
    let discarded = 0;
    let nextRetryInMs: number | null = null;

    for (const result of results) {
      const run = runs.get(result.runId);
      const step = steps.get(result.stepId);
      const fenced =
        run &&
        step &&
        step.status === 'running' &&
        step.lease_owner === result.fenceOwner &&
        step.attempt === result.attempt &&
        !TERMINAL_RUN_STATUSES.includes(run.status) &&
        // the reaper may only take a lease that is still expired now that it holds the run lock
        (result.outcome.kind !== 'lease_lost' || step.lease_expired);
      const once = result.outcome.kind === 'progress' || !seen.has(result.stepId);
      if (!fenced || !once || !run || !step) {
        discarded++;
        continue;
      }
      const base = { runId: run.id, organizationId: run.organization_id, stepKey: step.step_key };
      const outcome = result.outcome;
      if (outcome.kind === 'progress') {
        events.push({ ...base, type: 'step.progress', payload: { attempt: step.attempt, progress: outcome.progress } });
        continue;
      }
      seen.add(result.stepId);
      const definition = await this.definitions.get(run.definition_id);
      const compiled = definition.steps.get(step.step_key);
      if (outcome.kind === 'completed' && compiled && (compiled.spec.approval || compiled.spec.type === 'approval')) {
        // A checkpoint: the output is kept, but the step completes only when a human (or the timeout) decides.
        updates.push({
          id: step.id,
          status: 'awaiting_approval',
          attempt: step.attempt,
          leaseLosses: step.lease_losses,
          output: outcome.output,
          error: null,
          delayMs: null,
        });
        if (outcome.usage) usages.push({ id: step.id, usage: outcome.usage });
        opening.push({ run, stepId: step.id, stepKey: step.step_key, attempt: step.attempt, output: outcome.output, spec: compiled.spec });
        continue;
      }
      if (outcome.kind === 'completed') {
        updates.push({
          id: step.id,
          status: 'completed',
          attempt: step.attempt,
          leaseLosses: step.lease_losses,
          output: outcome.output,
          error: null,
          delayMs: null,
        });
        known.set(run.id, (known.get(run.id) ?? new Map()).set(step.step_key, outcome.output));
        events.push({
          ...base,
          type: 'step.completed',
          payload: { attempt: step.attempt, output: outcome.output, ...(outcome.usage ? { usage: { ...outcome.usage } } : {}) },
        });
        if (outcome.usage) usages.push({ id: step.id, usage: outcome.usage });
        finished.set(run.id, (finished.get(run.id) ?? 0) + 1);
        for (const dependent of compiled?.dependents ?? []) {
          const key = `${run.id}:${dependent}`;
          const entry = releases.get(key) ?? { runId: run.id, stepKey: dependent, n: 0 };
          entry.n++;
          releases.set(key, entry);
        }
        continue;
      }
      if (outcome.kind === 'lease_lost' || outcome.kind === 'released') {
        const losses = step.lease_losses + (outcome.kind === 'lease_lost' ? 1 : 0);
        if (losses <= MAX_LEASE_LOSSES) {
          // A crash or a shutdown is not a failed attempt: the attempt number is given back.
          updates.push({
            id: step.id,
            status: 'ready',
            attempt: step.attempt - 1,
            leaseLosses: losses,
            output: null,
            error: null,
            delayMs: 0,
          });
          const reason = outcome.kind === 'lease_lost' ? 'lease_expired' : 'worker_shutdown';
          events.push({ ...base, type: 'step.retrying', payload: { attempt: step.attempt, reason, delayMs: 0 } });
          events.push({ ...base, type: 'step.ready', payload: { attempt: step.attempt } });
          nextRetryInMs = 0;
          continue;
        }
        const error = { code: 'LEASE_EXPIRED', message: `the step's worker lost its lease ${losses} times`, retryable: false };
        updates.push({ id: step.id, status: 'failed', attempt: step.attempt, leaseLosses: losses, output: null, error, delayMs: null });
        events.push({ ...base, type: 'step.failed', payload: { attempt: step.attempt, error } });
        failedRuns.set(run.id, { stepKey: step.step_key, error });
        continue;
      }
      const error = outcome.error;
      const policy = compiled?.retry;
      const retryable = error.retryable && !(policy?.nonRetryable ?? []).includes(error.code) && step.attempt < step.max_attempts;
      if (retryable && policy) {
        // A peer that said when to come back (Retry-After) is not called earlier than that.
        const delayMs = Math.max(retryDelayMs(policy, step.attempt), error.retryAfterMs ?? 0);
        updates.push({
          id: step.id,
          status: 'ready',
          attempt: step.attempt,
          leaseLosses: step.lease_losses,
          output: null,
          error: { ...error },
          delayMs,
        });
        events.push({
          ...base,
          type: 'step.retrying',
          payload: { attempt: step.attempt, nextAttempt: step.attempt + 1, delayMs, error: { ...error } },
        });
        nextRetryInMs = nextRetryInMs === null ? delayMs : Math.min(nextRetryInMs, delayMs);
        continue;
      }
      updates.push({
        id: step.id,
        status: 'failed',
        attempt: step.attempt,
        leaseLosses: step.lease_losses,
        output: null,
        error: { ...error },
        delayMs: null,
      });
      events.push({ ...base, type: 'step.failed', payload: { attempt: step.attempt, error: { ...error } } });
      failedRuns.set(run.id, { stepKey: step.step_key, error: { ...error } });
    }

    await updateSteps(client, updates);
    await recordStepUsage(client, usages);
    await this.checkpoints.open(client, opening, events);
    const live = [...releases.values()].filter((r) => !failedRuns.has(r.runId));
    const fastClaim = fast && fast.limit > 0 ? fast : null;
    const released = await this.release(client, runs, live, !fastClaim, events);
    for (const runId of failedRuns.keys()) finished.delete(runId);
    await this.failRuns(client, runs, failedRuns, events);
    await this.completeFinishedRuns(client, runs, finished, events);
    const { claimed, applied } = await this.startReleased(client, runs, released, fastClaim, events, known);
    commitWith(client, applied, appendEvents(client, events));
    if (released.length > claimed.length || nextRetryInMs !== null) await notify(client, WORK_CHANNEL);
    return { applied: results.length - discarded, discarded, nextRetryInMs, claimed };
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
    if (failed.size === 0) return;
    const cancelled = await cancelOpenSteps(client, [...failed.keys()]);
    await expireApprovalsOfRuns(client, [...failed.keys()]);
    for (const step of cancelled) {
      const run = runs.get(step.run_id) as RunRow;
      events.push({
        runId: run.id,
        organizationId: run.organization_id,
        type: 'step.cancelled',
        stepKey: step.step_key,
        payload: { reason: 'run_failed' },
      });
    }
    const finishing = [...failed].map(([id, f]) => ({
      id,
      status: 'failed' as RunStatus,
      output: null,
      error: { step: f.stepKey, error: f.error },
    }));
    await finishRuns(client, finishing);
    for (const run of finishing) {
      const row = runs.get(run.id) as RunRow;
      row.status = 'failed';
      events.push({ runId: run.id, organizationId: row.organization_id, type: 'run.failed', payload: { error: run.error } });
    }
    for (const runId of new Set(cancelled.filter((s) => s.was_running).map((s) => s.run_id))) await notify(client, CANCEL_CHANNEL, runId);
  }

  /** Counts finished steps down and completes the runs that reach zero, computing their output. */
  async completeFinishedRuns(
    client: Queryable,
    runs: Map<string, RunRow>,
    finished: Map<string, number>,
    events: NewEvent[],
  ): Promise<void> {
    const remaining = await countDownRemaining(client, finished);
    const done = [...remaining].filter(([, n]) => n <= 0).map(([id]) => id);
    await this.completeRuns(client, runs, done, events);
  }

  async completeRuns(client: Queryable, runs: Map<string, RunRow>, runIds: string[], events: NewEvent[]): Promise<void> {
    if (runIds.length === 0) return;
    const outputs = new Map<string, Map<string, unknown>>();
    for (const row of await stepOutputs(client, runIds)) {
      const map = outputs.get(row.run_id) ?? new Map<string, unknown>();
      map.set(row.step_key, row.status === 'completed' || row.status === 'skipped' ? row.output : null);
      outputs.set(row.run_id, map);
    }
    const finishing: { id: string; status: RunStatus; output: unknown; error: unknown }[] = [];
    for (const id of runIds) {
      const run = runs.get(id) as RunRow;
      const definition = await this.definitions.get(run.definition_id);
      try {
        finishing.push({ id, status: 'completed', output: runOutput(definition, run.input, outputs.get(id) ?? new Map()), error: null });
      } catch (error) {
        finishing.push({ id, status: 'failed', output: null, error: { code: 'OUTPUT_TEMPLATE', message: (error as Error).message } });
      }
    }
    await finishRuns(client, finishing);
    for (const run of finishing) {
      const row = runs.get(run.id) as RunRow;
      row.status = run.status;
      events.push(
        run.status === 'completed'
          ? { runId: run.id, organizationId: row.organization_id, type: 'run.completed', payload: { output: run.output as JsonValue } }
          : { runId: run.id, organizationId: row.organization_id, type: 'run.failed', payload: { error: run.error as JsonValue } },
      );
    }
  }
}
