/**
 * Sub-orchestrations, the creating half: a `type: orchestration` step (or a step whose agent is an `orchestrator`
 * agent) is not handed to a worker. Its claim plans its children (the child definition, pinned now; one child input
 * per forEach item) and creates the first `concurrency` of them in the claim's own transaction, under the parent run's
 * lock, leaving the step `waiting`. The settling half (a child's end reaching its parent step, starting the next
 * children) is ResultApplier.settleChildren.
 */
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { renderTemplate, TemplateError, type JsonObject, type JsonValue, type StepSpec, type TemplateContext } from '#core';
import { DefinitionCache, inputProblems, type CompiledDefinition } from '../compiled-definition.js';
import { childDefinition, type SpawnPlan } from '../store/child-run.repository.js';
import type { Queryable } from '../store/engine-database.js';
import type { NewEvent } from '../store/event-log.repository.js';
import { createRunRows } from '../store/run-creation.repository.js';
import type { ClaimableStep, LockedRun } from '../store/step-claim.repository.js';
import type { AgentInfo } from './agent-directory.js';
import type { StepOutcome } from './step-outcome.js';

/** What the claim of a sub-orchestration step does: start children, or end the attempt at once. */
export type ChildPlan =
  | { kind: 'spawn'; plan: SpawnPlan; definition: CompiledDefinition; inputs: JsonValue[] }
  | { kind: 'immediate'; outcome: StepOutcome };

/** Child runs just created, and their first steps (ready). */
export interface SpawnedChildren {
  runs: Map<string, LockedRun>;
  ready: ClaimableStep[];
}

/** The parent as spawning needs it (locked by the caller). */
export interface SpawningParent {
  runId: string;
  organizationId: string;
  depth: number;
  /** Its conversation, inherited by the children. */
  contextId: string | null;
  stepId: string;
  stepKey: string;
  attempt: number;
}

/** True for the steps the engine runs as sub-orchestrations rather than agent calls. */
export function spawnsChildren(stepType: string, agent: AgentInfo | null): boolean {
  return stepType === 'orchestration' || agent?.type === 'orchestrator';
}

@Injectable()
export class ChildSpawner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly definitions: DefinitionCache,
  ) {}

  /**
   * The children of one attempt. For a `type: orchestration` step the spec names the definition, `forEach` and the
   * child input template (which sees `item` and `index`); for an orchestrator agent its config does
   * (`definition`, `version`, `forEach`, `input`, `concurrency`, `failFast`), read against the step's rendered input.
   */
  async plan(
    client: Queryable,
    organizationId: string,
    depth: number,
    spec: StepSpec,
    agent: AgentInfo | null,
    stepInput: JsonValue,
    context: TemplateContext,
  ): Promise<ChildPlan> {
    const source = spec.type === 'orchestration' ? this.fromSpec(spec, stepInput, context) : this.fromAgent(agent, stepInput, context);
    if ('error' in source) return fail('CHILD_INPUT_TEMPLATE', source.error, false);
    if (depth + 1 > this.config.maxOrchestrationDepth)
      return fail('DEPTH_EXCEEDED', `a child run would be at depth ${depth + 1}; BATON_MAX_ORCHESTRATION_DEPTH is ${this.config.maxOrchestrationDepth}`, false);
    if (source.inputs.length > this.config.maxForEachItems)
      return fail('FOREACH_TOO_LARGE', `forEach yielded ${source.inputs.length} items; BATON_MAX_FOREACH_ITEMS is ${this.config.maxForEachItems}`, false);
    const row = await childDefinition(client, organizationId, source.slug, source.version);
    if (!row) {
      const name = source.version ? `${source.slug} v${source.version}` : source.slug;
      // Retryable: the definition may be (re)activated before the next attempt.
      return fail('CHILD_DEFINITION_NOT_FOUND', `no active definition ${name} to run as a sub-orchestration`, true);
    }
    const definition = this.definitions.put(row);
    for (const [index, input] of source.inputs.entries()) {
      const problems = inputProblems(definition, input);
      if (problems.length > 0) {
        const where = source.forEach ? ` (item ${index})` : '';
        const detail = problems.map((p) => `${p.path} ${p.message}`).join('; ');
        return fail('CHILD_INPUT_INVALID', `input of ${definition.slug} v${definition.version}${where} does not match its schema: ${detail}`, false);
      }
    }
    if (source.inputs.length === 0) return { kind: 'immediate', outcome: { kind: 'completed', output: [] } };
    const plan: SpawnPlan = {
      definitionId: definition.id,
      slug: definition.slug,
      version: definition.version,
      forEach: source.forEach,
      concurrency: Math.max(1, Math.min(source.concurrency ?? source.inputs.length, source.inputs.length)),
      failFast: source.failFast,
    };
    return { kind: 'spawn', plan, definition, inputs: source.inputs };
  }

  /**
   * Creates the children at `indexes` of `inputs` (their input is `inputs[index]`), each a run of its own, and pushes
   * the events of both sides. Returns the new runs (inserted by this transaction: nobody else can lock them) and their
   * ready first steps, for the caller to start at once (see StepClaimer.claimLocked) or to wake a worker for.
   */
  async spawn(client: Queryable, parent: SpawningParent, plan: SpawnPlan, inputs: JsonValue[], indexes: number[], events: NewEvent[]): Promise<SpawnedChildren> {
    const definition = await this.definitions.get(plan.definitionId);
    const spawned: SpawnedChildren = { runs: new Map(), ready: [] };
    for (const index of indexes) {
      const created = await createRunRows(
        client,
        {
          organizationId: parent.organizationId,
          definition,
          input: inputs[index],
          priority: 0,
          idempotencyKey: null,
          parentRunId: parent.runId,
          parentStepId: parent.stepId,
          parentAttempt: parent.attempt,
          itemIndex: plan.forEach ? index : null,
          depth: parent.depth + 1,
          contextId: parent.contextId,
          createdBy: null,
        },
        events,
      );
      if (!created) throw new Error('child run creation conflicted (children carry no idempotency key)');
      spawned.runs.set(created.id, {
        id: created.id,
        organization_id: parent.organizationId,
        definition_id: definition.id,
        input: inputs[index],
        max_concurrency: definition.spec.concurrency ?? null,
        depth: parent.depth + 1,
        parent_run_id: parent.runId,
        budget: (definition.spec.budget ?? null) as LockedRun['budget'],
        usage_total_tokens: 0,
        usage_cost_usd: 0,
        context_id: parent.contextId,
      });
      spawned.ready.push(...created.ready);
      events.push({
        runId: parent.runId,
        organizationId: parent.organizationId,
        type: 'step.child_started',
        stepKey: parent.stepKey,
        payload: { attempt: parent.attempt, childRunId: created.id, index: plan.forEach ? index : null },
      });
    }
    return spawned;
  }

  private fromSpec(spec: StepSpec, stepInput: JsonValue, context: TemplateContext): Source | { error: string } {
    const base = { slug: spec.orchestration ?? '', version: spec.version, failFast: spec.failFast !== false, concurrency: spec.concurrency };
    if (!spec.forEach) return { ...base, forEach: false, inputs: [stepInput] };
    return this.perItem(spec.forEach, spec.input ?? null, context, base);
  }

  private fromAgent(agent: AgentInfo | null, stepInput: JsonValue, context: TemplateContext): Source | { error: string } {
    const config = (agent?.config ?? {}) as JsonObject;
    const slug = typeof config.definition === 'string' ? config.definition : '';
    if (!slug) return { error: 'the orchestrator agent names no definition (config.definition)' };
    const base = {
      slug,
      version: typeof config.version === 'number' ? config.version : undefined,
      failFast: config.failFast !== false,
      concurrency: typeof config.concurrency === 'number' ? config.concurrency : undefined,
    };
    // The agent's templates read the step's input as `input` (and the run as `run`).
    const own: TemplateContext = { input: stepInput, steps: {}, run: context.run };
    if (typeof config.forEach !== 'string') {
      if (config.input === undefined) return { ...base, forEach: false, inputs: [stepInput] };
      const rendered = render(config.input, own, '$.config.input');
      return 'error' in rendered ? rendered : { ...base, forEach: false, inputs: [rendered.value] };
    }
    return this.perItem(config.forEach, config.input === undefined ? '{{ item }}' : config.input, own, base);
  }

  private perItem(
    forEach: string,
    template: JsonValue,
    context: TemplateContext,
    base: Omit<Source, 'forEach' | 'inputs'>,
  ): Source | { error: string } {
    const items = render(forEach, context, '$.forEach');
    if ('error' in items) return items;
    if (!Array.isArray(items.value)) return { error: `forEach must yield an array; it yielded ${items.value === null ? 'null' : typeof items.value}` };
    const inputs: JsonValue[] = [];
    for (const [index, item] of items.value.entries()) {
      const rendered = render(template, { ...context, item, index }, '$.input');
      if ('error' in rendered) return rendered;
      inputs.push(rendered.value);
    }
    return { ...base, forEach: true, inputs };
  }
}

interface Source {
  slug: string;
  version: number | undefined;
  forEach: boolean;
  failFast: boolean;
  concurrency: number | undefined;
  inputs: JsonValue[];
}

function render(template: JsonValue, context: TemplateContext, path: string): { value: JsonValue } | { error: string } {
  try {
    return { value: renderTemplate(template, context, path) };
  } catch (error) {
    const detail = error instanceof TemplateError ? `${error.path}: ${error.message}` : (error as Error).message;
    return { error: `template failed at ${detail}` };
  }
}

function fail(code: string, message: string, retryable: boolean): ChildPlan {
  return { kind: 'immediate', outcome: { kind: 'failed', error: { code, message, retryable } } };
}
