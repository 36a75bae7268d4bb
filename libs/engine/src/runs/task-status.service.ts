/**
 * In-memory cache of run status summaries, kept current by the event tail (which sees events written by
 * every instance). A warm entry answers without touching the database. Each entry remembers the last event
 * seq it applied; an event that does not follow it exactly (a gap or reordering) drops the entry, and the
 * next read reloads it from a consistent snapshot.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Subscription } from 'rxjs';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, type RunStatus, type StepStatus } from '#core';
import { EventTail, type EventRecord, type EventType } from '#events';
import { OrchestrationRunEntity, OrchestrationStepEntity } from '#persistence';
import { summarize, type RunStatusSummary } from './run-queries.service.js';

interface Entry {
  organizationId: string;
  lastSeq: number;
  run: OrchestrationRunEntity;
  steps: Map<string, OrchestrationStepEntity>;
  summary: RunStatusSummary | null;
}

/**
 * What each event type says about its run's or step's status. Keyed by every event type (a new one does not compile
 * until it is placed here), null for the events that change no status.
 */
const STATUS_BY_EVENT: Record<EventType, { run: RunStatus } | { step: StepStatus } | null> = {
  'run.created': null,
  'run.started': { run: 'running' },
  'run.resumed': { run: 'running' },
  'run.awaiting_approval': { run: 'awaiting_approval' },
  'run.completed': { run: 'completed' },
  'run.failed': { run: 'failed' },
  'run.cancelled': { run: 'cancelled' },
  'run.compensating': null,
  'step.ready': { step: 'ready' },
  'step.started': { step: 'running' },
  'step.progress': null,
  'step.completed': { step: 'completed' },
  'step.failed': { step: 'failed' },
  'step.retrying': { step: 'ready' },
  'step.skipped': { step: 'skipped' },
  'step.cancelled': { step: 'cancelled' },
  'step.waiting': { step: 'waiting' },
  'step.child_started': null,
  'step.child_finished': null,
  'step.compensating': null,
  'step.compensated': null,
  'checkpoint.requested': { step: 'awaiting_approval' },
  'checkpoint.resolved': null,
  'checkpoint.escalated': null,
  'agent.breaker_opened': null,
  'agent.breaker_half_opened': null,
  'agent.breaker_closed': null,
  'group.turn': null,
};

const MAX_ENTRIES = 10_000;

@Injectable()
export class TaskStatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly entries = new Map<string, Entry>();
  private subscription: Subscription | null = null;
  /** Reads answered from memory vs. loaded from the database (exposed for tests and metrics). */
  readonly stats = { hits: 0, loads: 0 };

  constructor(
    private readonly tail: EventTail,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'worker') return;
    await this.tail.start();
    this.subscription = this.tail.events$.subscribe((batch) => this.apply(batch));
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  async get(organizationId: string, runId: string): Promise<RunStatusSummary> {
    const hit = this.entries.get(runId);
    if (hit && this.subscription) {
      if (hit.organizationId !== organizationId) throw DomainError.notFound('Run', runId);
      this.stats.hits++;
      hit.summary ??= summarize({ run: hit.run, steps: [...hit.steps.values()] });
      return hit.summary;
    }
    const entry = await this.load(organizationId, runId);
    this.stats.loads++;
    if (this.subscription) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(runId, entry);
    }
    entry.summary = summarize({ run: entry.run, steps: [...entry.steps.values()] });
    return entry.summary;
  }

  /** Run and steps from one snapshot, with the seq of the last event that snapshot reflects. */
  private load(organizationId: string, runId: string): Promise<Entry> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      // By primary key alone (see RunsRepository.findById), the organization checked on the row.
      const run = await manager.getRepository(OrchestrationRunEntity).findOneBy({ id: runId });
      if (!run || run.deletedAt || run.organizationId !== organizationId) throw DomainError.notFound('Run', runId);
      const steps = await manager.getRepository(OrchestrationStepEntity).find({ where: { organizationId, runId }, order: { position: 'ASC' } });
      return { organizationId, lastSeq: run.lastSeq, run, steps: new Map(steps.map((s) => [s.stepKey, s])), summary: null };
    });
  }

  private apply(batch: EventRecord[]): void {
    const ordered = batch.filter((e) => this.entries.has(e.runId)).sort((a, b) => (a.runId === b.runId ? a.seq - b.seq : a.runId < b.runId ? -1 : 1));
    for (const event of ordered) {
      const entry = this.entries.get(event.runId);
      if (!entry || event.seq <= entry.lastSeq) continue;
      if (event.seq !== entry.lastSeq + 1) {
        this.entries.delete(event.runId);
        continue;
      }
      entry.lastSeq = event.seq;
      entry.summary = null;
      entry.run.updatedAt = new Date(event.createdAt);
      const effect = STATUS_BY_EVENT[event.type];
      if (effect && 'run' in effect) entry.run.status = effect.run;
      const step = event.stepKey ? entry.steps.get(event.stepKey) : undefined;
      if (effect && 'step' in effect && step) {
        step.status = effect.step;
        const payload = event.payload as { attempt?: number; delayMs?: number } | null;
        if (event.type === 'step.started' && typeof payload?.attempt === 'number') step.attempt = payload.attempt;
        step.nextAttemptAt = event.type === 'step.retrying' ? new Date(Date.parse(event.createdAt) + (payload?.delayMs ?? 0)) : step.nextAttemptAt;
      }
    }
  }
}
