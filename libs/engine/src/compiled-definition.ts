import { Inject, Injectable } from '@nestjs/common';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { DataSource } from 'typeorm';
import { DomainError, extractTemplateReferences, type DefinitionSpec, type ProblemDetail, type StepSpec } from '#core';
import { DATA_SOURCE, OrchestrationDefinitionEntity } from '#persistence';
import { resolveRetryPolicy, type ResolvedRetryPolicy } from './backoff.js';

/** What the engine needs of a definition, computed once: definitions are immutable, so this never goes stale. */
export interface CompiledDefinition {
  id: string;
  slug: string;
  version: number;
  spec: DefinitionSpec;
  steps: Map<string, CompiledStep>;
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
  /** Steps whose outputs this step's input templates read (only these are loaded to render it). */
  reads: string[];
  retry: ResolvedRetryPolicy;
  timeoutMs: number | null;
}

const ajv = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(ajv);

export function compileDefinition(row: Pick<OrchestrationDefinitionEntity, 'id' | 'slug' | 'version' | 'spec'>): CompiledDefinition {
  const spec = row.spec;
  const steps = new Map<string, CompiledStep>();
  spec.steps.forEach((step, position) => {
    steps.set(step.key, {
      spec: step,
      position,
      dependsOn: step.dependsOn ?? [],
      dependents: [],
      upstream: [],
      reads: [...new Set(extractTemplateReferences(step.input ?? null).references.flatMap((r) => (r.stepKey ? [r.stepKey] : [])))],
      retry: resolveRetryPolicy(step.retry, spec.defaults?.retry),
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
  return { id: row.id, slug: row.slug, version: row.version, spec, steps, sinks, validateInput: spec.input ? ajv.compile(spec.input) : null };
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

  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async get(definitionId: string): Promise<CompiledDefinition> {
    const hit = this.cache.get(definitionId);
    if (hit) return hit;
    const row = await this.dataSource.getRepository(OrchestrationDefinitionEntity).findOneBy({ id: definitionId });
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
