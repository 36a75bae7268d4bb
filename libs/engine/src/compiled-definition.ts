import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Repository } from 'typeorm';
import { DomainError, extractTemplateReferences, type DefinitionSpec, type JsonValue, type ProblemDetail, type StepSpec } from '#core';
import { OrchestrationDefinitionEntity } from '#persistence';
import { resolveRetryPolicy, type ResolvedRetryPolicy } from './backoff.js';
import { compileGroup, type CompiledGroup } from './group/group-conversation.js';

/** What the engine needs of a definition, computed once: definitions are immutable, so this never goes stale. */
export interface CompiledDefinition {
  id: string;
  slug: string;
  version: number;
  spec: DefinitionSpec;
  steps: Map<string, CompiledStep>;
  /**
   * The rollback step of each reversible step, keyed `<key>.rollback` (saga compensation): not part of a run until it
   * fails or is aborted with `compensate: true`, then added for the steps that completed, in reverse completion order.
   */
  rollbacks: Map<string, CompiledStep>;
  /** Steps no other step depends on: their outputs form the run output unless `output:` maps it. */
  sinks: string[];
  validateInput: ValidateFunction | null;
}

export interface CompiledStep {
  spec: StepSpec;
  position: number;
  dependsOn: string[];
  dependents: string[];
  /** Every transitive dependency: the only steps whose outputs a template of this step may read. */
  upstream: string[];
  /** Steps whose outputs this step's input (and cache key) templates read (only these are loaded to render them). */
  reads: string[];
  /** Its input reads `{{ context.* }}` (the run's conversation history is loaded to render it). */
  readsContext?: boolean;
  retry: ResolvedRetryPolicy;
  /** A group step: its participants, strategy and termination, defaults applied (see group/group-conversation.ts). */
  group?: CompiledGroup;
  /** Bounds each agent call (a group step: each turn). */
  timeoutMs: number | null;
}

const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);

export function compileDefinition(row: Pick<OrchestrationDefinitionEntity, 'id' | 'slug' | 'version' | 'spec'>): CompiledDefinition {
  const spec = row.spec;
  const steps = new Map<string, CompiledStep>();
  spec.steps.forEach((step, position) => {
    // What its templates read: the input, and the cache key rendered with it.
    const references = [step.input ?? null, step.cache?.key ?? null].flatMap((t) => extractTemplateReferences(t).references);
    steps.set(step.key, {
      spec: step,
      position,
      dependsOn: step.dependsOn ?? [],
      dependents: [],
      upstream: [],
      reads: [...new Set(references.flatMap((r) => (r.stepKey ? [r.stepKey] : [])))],
      readsContext: references.some((r) => r.root === 'context'),
      retry: resolveRetryPolicy(step.retry, spec.defaults?.retry),
      ...(step.type === 'group' ? { group: compileGroup(step) } : {}),
      timeoutMs: step.timeoutMs ?? spec.defaults?.timeoutMs ?? null,
    });
  });
  for (const step of steps.values()) for (const dep of step.dependsOn) steps.get(dep)?.dependents.push(step.spec.key);
  for (const step of steps.values()) {
    const seen = new Set<string>();
    const stack = [...step.dependsOn];
    while (stack.length > 0) {
      const key = stack.pop() as string;
      if (seen.has(key)) continue;
      seen.add(key);
      stack.push(...(steps.get(key)?.dependsOn ?? []));
    }
    step.upstream = [...seen];
  }
  const sinks = [...steps.values()].filter((s) => s.dependents.length === 0).map((s) => s.spec.key);
  const rollbacks = new Map<string, CompiledStep>();
  for (const step of steps.values()) {
    const rollback = step.spec.rollback as { agent?: string; input?: JsonValue; retry?: StepSpec['retry']; timeoutMs?: number } | undefined;
    if (!step.spec.reversible || !rollback?.agent) continue;
    const key = rollbackKey(step.spec.key);
    rollbacks.set(key, {
      spec: { key, agent: rollback.agent, input: rollback.input ?? null, retry: rollback.retry, timeoutMs: rollback.timeoutMs },
      position: steps.size + step.position,
      dependsOn: [],
      dependents: [],
      upstream: [step.spec.key, ...step.upstream],
      reads: [...new Set(extractTemplateReferences(rollback.input ?? null).references.flatMap((r) => (r.stepKey ? [r.stepKey] : [])))],
      retry: resolveRetryPolicy(rollback.retry, spec.defaults?.retry),
      timeoutMs: rollback.timeoutMs ?? spec.defaults?.timeoutMs ?? null,
    });
  }
  return { id: row.id, slug: row.slug, version: row.version, spec, steps, rollbacks, sinks, validateInput: spec.input ? ajv.compile(spec.input) : null };
}

/** The key of the rollback step that undoes `stepKey`. */
export function rollbackKey(stepKey: string): string {
  return `${stepKey}.rollback`;
}

/** A step of the definition by key: one of its steps, or the rollback step of one. */
export function stepOf(definition: CompiledDefinition, key: string): CompiledStep | undefined {
  return definition.steps.get(key) ?? definition.rollbacks.get(key);
}

export function inputProblems(definition: CompiledDefinition, input: unknown): ProblemDetail[] {
  if (!definition.validateInput || definition.validateInput(input)) return [];
  return (definition.validateInput.errors ?? []).map((e) => ({
    path: `$.input${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`,
    message: e.message ?? 'invalid',
    code: e.keyword,
  }));
}

/** Per-process cache of compiled definitions by id (bounded; entries never go stale). */
@Injectable()
export class DefinitionCache {
  private readonly cache = new Map<string, CompiledDefinition>();
  private static readonly MAX = 2000;

  constructor(@InjectRepository(OrchestrationDefinitionEntity) private readonly definitions: Repository<OrchestrationDefinitionEntity>) {}

  async get(definitionId: string): Promise<CompiledDefinition> {
    const hit = this.cache.get(definitionId);
    if (hit) return hit;
    const row = await this.definitions.findOneBy({ id: definitionId });
    if (!row) throw DomainError.notFound('Definition', definitionId);
    return this.put(row);
  }

  put(row: Pick<OrchestrationDefinitionEntity, 'id' | 'slug' | 'version' | 'spec'>): CompiledDefinition {
    const hit = this.cache.get(row.id);
    if (hit) return hit;
    if (this.cache.size >= DefinitionCache.MAX) this.cache.delete(this.cache.keys().next().value as string);
    const compiled = compileDefinition(row);
    this.cache.set(row.id, compiled);
    return compiled;
  }
}
