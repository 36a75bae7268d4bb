/**
 * One worker per process (BATON_ROLE all|worker). Keeps these promises:
 * - it runs at most BATON_WORKER_CONCURRENCY steps at once and claims only while it has free slots;
 * - results reach the database through the ResultApplier only (fenced by lease owner and attempt); a group step's
 *   turns too, each awaited until its transaction committed before the next turn starts;
 * - leases of running steps are renewed every third of the lease; a step whose lease was lost is aborted;
 * - any instance's reaper returns expired leases (a dead worker's steps) to ready;
 * - on shutdown it stops claiming, lets in-flight steps finish for up to 30 s, then releases their leases;
 * - a claim or a result batch that fails (the database down, busy, out of space) is retried with capped exponential
 *   backoff, results kept in order in their lane (nothing committed, so nothing is lost or applied twice); after
 *   shutdown began, for at most FLUSH_AFTER_STOP_MS: then the leases of what is left expire and others re-run it.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { APP_CONFIG, type AppConfig } from '#config';
import { backoffDelayMs, BackgroundLoops, WakeSignal, type BackoffPolicy, type JsonValue } from '#core';
import { CANCEL_CHANNEL, PgListener, WORK_CHANNEL } from '#events';
import { EngineDatabase } from '../store/engine-database.js';
import { purgeExpired } from '../store/step-cache.repository.js';
import { findExpiredLeases, renewLeases } from '../store/step-claim.repository.js';
import { ClaimThrottle } from './claim-throttle.js';
import { ResultApplier, type FastClaim } from './result-applier.js';
import { StepClaimer, type ClaimedStep } from './step-claimer.js';
import { StepExecutor } from './step-executor.js';
import type { StepResult, TurnRecorder } from './step-outcome.js';

const MAX_FLUSH_BATCH = 1000;
/** Retries of a failed claim or result batch: 200 ms, 400 ms, ... up to 5 s between attempts. */
const LOOP_BACKOFF: BackoffPolicy = { initialDelayMs: 200, maxDelayMs: 5000 };
/** How long results may still be retried once shutdown has drained the in-flight steps. */
export const FLUSH_AFTER_STOP_MS = 10_000;
/** How many turns of the event loop, and for how long after their start, a lane waits for the steps it just started. */
const GATHER_TURNS = 3;
const GATHER_WINDOW_MS = 2;
/** How often expired step cache entries are deleted. */
const CACHE_PURGE_MS = 60_000;

interface Lane {
  results: StepResult[];
  wake: WakeSignal;
  /** Steps this lane's last batch started that have not reported yet, and when it started them. */
  awaiting: Set<string>;
  startedAt: number;
}

interface InFlight {
  step: ClaimedStep;
  controller: AbortController;
}

@Injectable()
export class EngineWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EngineWorker.name);
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly inFlight = new Map<string, InFlight>();
  /**
   * Result batches are applied by BATON_FLUSH_LANES lanes at once, each owning the runs that hash to it: lanes never
   * contend for a run lock, and the database works on several transactions while each waits on round trips. A child
   * run hashes by its parent (see laneOf), whose row its end locks.
   */
  private readonly lanes: Lane[];
  /**
   * Most slots one claim (or one lane's fast claim) reserves (BATON_CLAIM_BATCH): reserving all free slots for one
   * transaction would leave the other lanes none, pushing their dependents through a separate claim transaction.
   */
  private readonly claimBatch: number;
  private readonly claimWake = new WakeSignal();
  private readonly lifecycle: BackgroundLoops;
  /** Slots promised to a claim or a result batch in progress, so the two never overfill the worker together. */
  private reserved = 0;
  /** Set by stop(): when the flush loops stop retrying. */
  private flushDeadline: number | null = null;
  /**
   * Ready steps may be waiting for a slot of this worker: its last claim filled every slot it asked for, or found none
   * free. Only then does a finished step wake the claim loop; otherwise a claim would find nothing (new work announces
   * itself by NOTIFY, retries by timer), and at one empty claim per finished step that was a round trip per step.
   */
  private slotsWanted = true;
  /** Completed-step counter for benches and metrics. */
  stepsFinished = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: EngineDatabase,
    private readonly claimer: StepClaimer,
    private readonly executor: StepExecutor,
    private readonly applier: ResultApplier,
    private readonly listener: PgListener,
    private readonly throttle: ClaimThrottle,
  ) {
    this.lanes = Array.from({ length: config.flushLanes }, () => ({ results: [], wake: new WakeSignal(), awaiting: new Set<string>(), startedAt: 0 }));
    this.claimBatch = config.claimBatch;
    this.lifecycle = new BackgroundLoops([this.claimWake, ...this.lanes.map((lane) => lane.wake)]);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role !== 'api') await this.start();
  }

  get isRunning(): boolean {
    return this.lifecycle.running;
  }

  async start(): Promise<void> {
    if (!this.lifecycle.begin()) return;
    this.lifecycle.onStop(await this.listener.listen(WORK_CHANNEL, () => this.claimWake.fire()));
    this.lifecycle.onStop(await this.listener.listen(CANCEL_CHANNEL, (runId) => this.abortRun(runId)));
    const third = Math.max(200, Math.floor(this.config.leaseMs / 3));
    this.lifecycle.every(third, () => this.heartbeat());
    this.lifecycle.every(third + Math.floor(Math.random() * 250), () => this.reap());
    this.lifecycle.every(CACHE_PURGE_MS, () => this.purgeCache());
    this.lifecycle.spawn(() => this.claimLoop());
    for (const lane of this.lanes) this.lifecycle.spawn(() => this.flushLoop(lane));
    this.logger.log(`worker ${this.workerId} started (concurrency ${this.config.workerConcurrency}, lease ${this.config.leaseMs} ms)`);
  }

  private async claimLoop(): Promise<void> {
    let failures = 0;
    while (this.lifecycle.running) {
      const free = this.freeSlots();
      if (free <= 0) this.slotsWanted = true;
      if (free > 0) {
        const want = Math.min(free, this.claimBatch);
        let claimed: ClaimedStep[];
        let passedOver: boolean;
        this.reserved += want;
        try {
          ({ claimed, passedOver } = await this.claimer.claimReady(this.workerId, want, this.config.leaseMs));
        } catch (error) {
          const delay = backoffDelayMs(LOOP_BACKOFF, ++failures);
          if (this.lifecycle.running) this.logger.error(`claim failed: ${(error as Error).message}; retrying in ${delay} ms`);
          await this.claimWake.wait(delay);
          continue;
        } finally {
          this.reserved -= want;
        }
        failures = 0;
        for (const step of claimed) this.run(step);
        this.slotsWanted = claimed.length === want || passedOver;
        if (claimed.length === want) continue;
      }
      await this.claimWake.wait(this.config.pollIntervalMs);
    }
  }

  /**
   * Lets a transaction (a result batch, a checkpoint decision, a run's creation) start the steps it makes ready on
   * this worker, inside that same transaction: `work` is given up to `wanted` (at most BATON_CLAIM_BATCH) free slots
   * (null when this process runs no worker or has none free), must commit before it returns, and returns the steps
   * it claimed, which run only then. Saves the NOTIFY, the claim loop's wake-up and a second committing transaction
   * per hand-over.
   */
  async lendSlots<T>(
    work: (fast: FastClaim | null) => Promise<{ value: T; claimed: ClaimedStep[] }>,
    wanted = this.claimBatch,
  ): Promise<T> {
    // Lend no more than the transaction can use: slots reserved for nothing are slots the other lanes lack.
    const limit = this.lifecycle.running ? Math.max(0, Math.min(this.freeSlots(), this.claimBatch, wanted)) : 0;
    this.reserved += limit;
    try {
      const { value, claimed } = await work(limit > 0 ? { workerId: this.workerId, leaseMs: this.config.leaseMs, limit } : null);
      for (const step of claimed) this.run(step);
      return value;
    } finally {
      this.reserved -= limit;
      // When ready steps may be waiting for this worker, the claim loop looks again: slots lent and not used are free
      // again (a result batch of a wide fan-out's branches lends one per result and releases nothing until the last; the
      // claim loop found none free meanwhile), and the transaction's run locks, which a concurrent claim skipped, are
      // released. Left to its poll, a backlog ran at one claim of the worker's slots per poll interval.
      if (this.slotsWanted) this.claimWake.fire();
    }
  }

  /** Free slots under the concurrency ClaimThrottle allows now (lowered while breakers open in bursts). */
  private freeSlots(): number {
    return this.throttle.limit(this.config.workerConcurrency) - this.inFlight.size - this.reserved;
  }

  private run(step: ClaimedStep): void {
    const controller = new AbortController();
    this.inFlight.set(step.id, { step, controller });
    const report = (outcome: StepResult['outcome']) => this.submit(step, this.resultOf(step, outcome));
    const onProgress = (progress: JsonValue) => report({ kind: 'progress', progress });
    const recordTurn: TurnRecorder = (turn) => new Promise((settled) => this.submit(step, { ...this.resultOf(step, turn), settled }));
    void this.executor.execute(step, controller.signal, onProgress, recordTurn).then((outcome) => {
      this.inFlight.delete(step.id);
      // A cancelled or lease-lost step has nothing to report: the run moved on without it.
      if (!controller.signal.aborted) report(outcome);
      if (this.slotsWanted) this.claimWake.fire();
    });
  }

  /** What this worker reports of an attempt it holds the lease of (fenced on owner and attempt when applied). */
  private resultOf(step: ClaimedStep, outcome: StepResult['outcome']): StepResult {
    // A step without dependents may end its run, and a child run's end may start its parent's next child here.
    const mayRelease = outcome.kind === 'completed' ? Math.max(1, step.dependents) : 0;
    return {
      stepId: step.id,
      runId: step.runId,
      stepKey: step.stepKey,
      attempt: step.attempt,
      fenceOwner: this.workerId,
      outcome,
      mayRelease,
      rootRun: step.parentRunId === null,
      ...(step.cache && outcome.kind === 'completed' && !outcome.cached ? { cache: step.cache } : {}),
    };
  }

  /**
   * The lane of a step's results: by its run, a child run's by its parent. The end of a child run locks its parent, so
   * siblings in different lanes queued on the parent's lock, and every other run of their batches with them (the soak's
   * longest lock waits); in their parent's lane they take turns without blocking anyone else.
   */
  private laneOf(step: Pick<ClaimedStep, 'runId' | 'parentRunId'>): Lane {
    const runId = step.parentRunId ?? step.runId;
    let hash = 0;
    for (let i = 0; i < runId.length; i++) hash = (hash * 31 + runId.charCodeAt(i)) | 0;
    return this.lanes[Math.abs(hash) % this.lanes.length];
  }

  private submit(step: ClaimedStep, result: StepResult): void {
    const lane = this.laneOf(step);
    if (result.outcome.kind !== 'progress' && result.outcome.kind !== 'turn') lane.awaiting.delete(result.stepId);
    lane.results.push(result);
    lane.wake.fire();
  }

  private async flushLoop(lane: Lane): Promise<void> {
    let failures = 0;
    while (this.lifecycle.running || lane.results.length > 0 || this.inFlight.size > 0) {
      if (!this.lifecycle.running && this.flushDeadline !== null && Date.now() > this.flushDeadline) {
        this.logger.error(`shutting down with ${lane.results.length} results not applied: their leases expire and the steps run again elsewhere`);
        for (const result of lane.results.splice(0)) result.settled?.(false);
        return;
      }
      if (lane.results.length === 0) {
        await lane.wake.wait(this.lifecycle.running ? 1000 : 50);
        continue;
      }
      await this.gather(lane);
      const batch = lane.results.splice(0, MAX_FLUSH_BATCH);
      const wanted = batch.reduce((n, r) => n + (r.mayRelease ?? 0), 0);
      try {
        await this.lendSlots(async (fast) => {
          const summary = await this.applier.apply(batch, fast);
          for (const result of batch) result.settled?.(!summary.rejected.has(result));
          this.stepsFinished += summary.applied;
          if (summary.nextRetryInMs !== null) {
            const timer = setTimeout(() => this.claimWake.fire(), summary.nextRetryInMs + 5);
            timer.unref();
          }
          for (const step of summary.claimed) if (this.laneOf(step) === lane) lane.awaiting.add(step.id);
          lane.startedAt = performance.now();
          return { value: undefined, claimed: summary.claimed };
        }, wanted);
        failures = 0;
      } catch (error) {
        // Nothing was committed: put the batch back and try again after a backoff (fencing makes a re-apply safe).
        const delay = backoffDelayMs(LOOP_BACKOFF, ++failures);
        this.logger.error(`applying ${batch.length} results failed: ${(error as Error).message}; retrying in ${delay} ms`);
        lane.results.unshift(...batch);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Before a lane takes its next batch: if the steps its last batch started began just now (in-process agents answer
   * within a turn or two of the event loop), gives them up to GATHER_TURNS turns to report, so their results ride in
   * this batch rather than the next. Without it, the runs of a lane split into groups whose transactions alternate: a
   * chain's step waited for the other group's transaction and then its own, and two thinner transactions cost more
   * CPU per step than one (chain @10: about a quarter less CPU per step, docs/benchmarks.md). Slow agents lose nothing:
   * past GATHER_WINDOW_MS after their start nothing waits for them.
   */
  private async gather(lane: Lane): Promise<void> {
    for (let turn = 0; turn < GATHER_TURNS && lane.awaiting.size > 0 && performance.now() - lane.startedAt < GATHER_WINDOW_MS; turn++)
      await new Promise((resolve) => setImmediate(resolve));
    lane.awaiting.clear();
  }

  private abortRun(runId: string): void {
    for (const { step, controller } of this.inFlight.values()) if (step.runId === runId) controller.abort('cancelled');
  }

  private async heartbeat(): Promise<void> {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0) return;
    try {
      const held = await renewLeases(this.db.workerPool, this.workerId, this.config.leaseMs, ids);
      for (const id of ids) if (!held.has(id)) this.inFlight.get(id)?.controller.abort('lease_lost');
    } catch (error) {
      this.logger.warn(`lease renewal failed: ${(error as Error).message}`);
    }
  }

  /** Returns expired leases of any instance to ready (through the applier, fenced on the dead owner). */
  private async reap(): Promise<void> {
    if (!this.lifecycle.running) return;
    try {
      const expired = await findExpiredLeases(this.db.workerPool, 500);
      if (expired.length === 0) return;
      const summary = await this.applier.apply(
        expired.map((e) => ({
          stepId: e.id,
          runId: e.run_id,
          stepKey: '',
          attempt: e.attempt,
          fenceOwner: e.lease_owner,
          outcome: { kind: 'lease_lost' as const },
        })),
      );
      if (summary.applied > 0) this.logger.warn(`reclaimed ${summary.applied} steps whose lease expired`);
    } catch (error) {
      this.logger.warn(`reaper failed: ${(error as Error).message}`);
    }
  }

  /** Deletes expired step cache entries (every worker does it; deleting twice is harmless). */
  private async purgeCache(): Promise<void> {
    try {
      while (this.lifecycle.running && (await purgeExpired(this.db.workerPool, 1000)) === 1000);
    } catch (error) {
      this.logger.warn(`purging the step cache failed: ${(error as Error).message}`);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    const stopped = await this.lifecycle.stop(async () => {
      const deadline = Date.now() + graceMs;
      while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const left = [...this.inFlight.values()];
      for (const { controller } of left) controller.abort('shutdown');
      for (const { step } of left) this.submit(step, this.resultOf(step, { kind: 'released' }));
      this.inFlight.clear();
      this.flushDeadline = Date.now() + FLUSH_AFTER_STOP_MS;
    });
    if (stopped) this.logger.log(`worker ${this.workerId} stopped`);
  }
}
