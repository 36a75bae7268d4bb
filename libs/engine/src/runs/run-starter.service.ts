/**
 * Starts runs: resolves the definition version the run is pinned to, validates the input against its schema,
 * honours idempotency keys (a repeat returns the first run, even under a race), and creates run, steps and
 * first events in one transaction that also starts the first steps here or wakes the workers.
 */
import { Injectable } from '@nestjs/common';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { DomainError, type Budget, type JsonValue } from '#core';
import { WORK_CHANNEL } from '#events';
import { RunsRepository, type OrchestrationRunEntity } from '#persistence';
import { DefinitionCache, inputProblems, type CompiledDefinition } from '../compiled-definition.js';
import { ActiveDefinitions } from './active-definitions.js';
import { commitWith, EngineDatabase } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import { createRunRows } from '../store/run-creation.repository.js';
import { setRunTraceParent } from '../store/run-trace.repository.js';
import { RunTracing } from '../observe/run-tracing.js';
import { notify } from '../store/step-transition.repository.js';
import { EngineWorker } from '../worker/engine-worker.js';
import { StepClaimer } from '../worker/step-claimer.js';
import type { RunBudget } from '../store/step-claim.repository.js';

export interface StartRunCommand {
  organizationId: string;
  definition: string;
  version?: number;
  input?: JsonValue;
  idempotencyKey?: string | null;
  priority?: number;
  parentRunId?: string | null;
  parentStepId?: string | null;
  actorUserId?: string | null;
  /** The run's budget (absent: its definition's; null: none). */
  budget?: Budget | null;
  /** The conversation (A2A contextId) the run belongs to (its steps' `{{ context.history }}`). */
  contextId?: string | null;
}

export interface StartedRun {
  run: OrchestrationRunEntity;
  created: boolean;
}

@Injectable()
export class RunStarter {
  constructor(
    private readonly db: EngineDatabase,
    private readonly active: ActiveDefinitions,
    private readonly cache: DefinitionCache,
    private readonly runs: RunsRepository,
    private readonly worker: EngineWorker,
    private readonly claimer: StepClaimer,
    private readonly tracing: RunTracing,
  ) {}

  async start(command: StartRunCommand): Promise<StartedRun> {
    const { organizationId } = command;
    // A repeated idempotency key is found by the insert's conflict (below), not by a read before every keyed start;
    // a repeat that could no longer start (definition archived, input now invalid) still answers with its first run.
    let checked: { definition: CompiledDefinition; input: JsonValue };
    try {
      checked = await this.startable(command);
    } catch (error) {
      if (!(error instanceof DomainError) || !command.idempotencyKey) throw error;
      const existing = await this.existing(organizationId, command.idempotencyKey, command.definition);
      if (existing) return { run: existing, created: false };
      throw error;
    }
    const { definition, input } = checked;

    // When this process runs a worker with free slots, the run's first steps start on it in the creating transaction
    // (like a decision's dependents, see EngineWorker.lendSlots); otherwise a worker is woken to claim them.
    // The run's span (tracing on): a child of the request's span, its traceparent kept on the run row.
    const traced = this.tracing.startRun(definition.slug, organizationId);
    const creating = this.worker.lendSlots((fast) =>
      this.db.tx(async (client) => {
        const events: NewEvent[] = [];
        const created = await createRunRows(
          client,
          {
            organizationId,
            definition,
            input,
            priority: command.priority ?? 0,
            idempotencyKey: command.idempotencyKey ?? null,
            parentRunId: command.parentRunId ?? null,
            parentStepId: command.parentStepId ?? null,
            createdBy: command.actorUserId ?? null,
            ...(command.budget !== undefined ? { budget: command.budget } : {}),
            contextId: command.contextId ?? null,
          },
          events,
        );
        if (!created) return { value: null, claimed: [] };
        // Sent before the event append, so the append (and the observers of its events) reads the run's trace.
        const tracedRow = traced ? setRunTraceParent(client, created.id, traced.traceParent) : Promise.resolve();
        // The run row was inserted by this transaction: nobody else can see it, let alone lock it, before the commit.
        const run = {
          id: created.id,
          organization_id: organizationId,
          definition_id: definition.id,
          input,
          max_concurrency: definition.spec.concurrency ?? null,
          depth: 0,
          parent_run_id: null,
          budget: (command.budget === undefined ? (definition.spec.budget ?? null) : command.budget) as RunBudget | null,
          usage_total_tokens: 0,
          usage_cost_usd: 0,
          context_id: command.contextId ?? null,
        };
        const claim = fast
          ? await this.claimer.claimLocked(client, fast.workerId, fast.limit, fast.leaseMs, new Map([[run.id, run]]), created.ready, events)
          : { claimed: [], applied: Promise.resolve() };
        commitWith(client, tracedRow, claim.applied, appendEvents(client, events));
        if (created.ready.length > claim.claimed.length) await notify(client, WORK_CHANNEL);
        return { value: created, claimed: claim.claimed };
      }),
      [...definition.steps.values()].filter((s) => s.dependsOn.length === 0).length,
    );
    const inserted = traced ? await endWith(traced.span, creating) : await creating;
    if (!inserted) {
      // Lost an idempotency race: the winner's run is the answer.
      const winner = await this.existing(organizationId, command.idempotencyKey as string, command.definition);
      if (winner) return { run: winner, created: false };
      throw DomainError.conflict('Idempotency key conflict');
    }
    // The run as its creation left it (no read back): its row as the INSERT returned it.
    return { run: this.runs.fromRow(inserted.row), created: true };
  }

  /** The definition version the run is pinned to, and its input checked against the input schema. */
  private async startable(command: StartRunCommand): Promise<{ definition: CompiledDefinition; input: JsonValue }> {
    const row = await this.active.resolve(command.organizationId, command.definition, command.version);
    if (!row)
      throw DomainError.notFound(
        'Orchestration definition',
        command.version ? `${command.definition} v${command.version}` : command.definition,
      );
    if (row.status !== 'active')
      throw DomainError.invalidState(`${row.slug} v${row.version} is ${row.status}: only active versions start runs`);
    const definition = this.cache.put(row);
    const input = command.input ?? {};
    const problems = inputProblems(definition, input);
    if (problems.length > 0) throw DomainError.validation(`Input does not match the input schema of ${row.slug} v${row.version}`, problems);
    return { definition, input };
  }

  private async existing(organizationId: string, key: string, definition: string): Promise<OrchestrationRunEntity | null> {
    const run = await this.runs.findByIdempotencyKey(organizationId, key);
    if (run && run.definitionSlug !== definition) {
      throw DomainError.conflict(`Idempotency key ${key} was already used for a run of ${run.definitionSlug}`, { runId: run.id });
    }
    return run;
  }
}

/** Ends the run's span once its creation settled, naming the run (or the error) on it. */
async function endWith<T extends { id: string } | null>(span: Span, creating: Promise<T>): Promise<T> {
  try {
    const created = await creating;
    if (created) span.setAttribute('baton.run_id', created.id);
    else span.setAttribute('baton.idempotent_replay', true);
    return created;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
