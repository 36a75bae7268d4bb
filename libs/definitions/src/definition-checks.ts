/**
 * The checks a JSON Schema cannot express: they need the whole document (step references, cycles,
 * templates) or the organization's catalog (agents, definitions). They run even when the schema check
 * failed, reading the document defensively, so one save reports every problem at once.
 *
 * Invariant kept for the engine: a definition that passes has unique step keys, an acyclic dependsOn graph,
 * and templates that only read steps guaranteed to have finished (transitive dependencies).
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { extractTemplateReferences, isBuiltinAgent, type JsonValue, type ProblemDetail } from '#core';

export interface DefinitionCatalog {
  /** Agent slugs stored in the organization (built-in agents are always known). */
  agents: ReadonlySet<string>;
  /** Definition slugs with at least one active version in the organization. */
  activeDefinitions: ReadonlySet<string>;
  /** Capabilities of the organization's active agents (absent: none, so every `capability:` is unknown). */
  capabilities?: ReadonlySet<string>;
  /**
   * The sub-orchestrations each active definition (its latest active version) runs, for every definition reachable
   * from this document's orchestration steps: a path back to this document's slug is a cycle.
   */
  orchestrationGraph?: ReadonlyMap<string, readonly string[]>;
}

type Fields = Record<string, unknown>;

interface StepView {
  index: number;
  path: string;
  fields: Fields;
  key?: string;
  type: string;
  dependsOn: { key: string; index: number }[];
}

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringAt(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
}

function stringsAt(fields: Fields, name: string): { value: string; index: number }[] {
  const value = fields[name];
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, index) => (typeof item === 'string' ? [{ value: item, index }] : []));
}

function stepViews(document: Fields): StepView[] {
  const steps = Array.isArray(document.steps) ? (document.steps as unknown[]) : [];
  return steps.flatMap((item, index) => {
    if (!isObject(item)) return [];
    return [
      {
        index,
        path: `$.steps[${index}]`,
        fields: item,
        key: stringAt(item, 'key'),
        type: stringAt(item, 'type') ?? 'agent',
        dependsOn: stringsAt(item, 'dependsOn').map(({ value, index: i }) => ({ key: value, index: i })),
      },
    ];
  });
}

/** Agent slugs and sub-orchestration slugs the document names, for one catalog lookup each. */
export function referencedNames(document: unknown): { agents: string[]; orchestrations: string[]; capabilities: string[] } {
  if (!isObject(document)) return { agents: [], orchestrations: [], capabilities: [] };
  const agents = new Set<string>();
  const orchestrations = new Set<string>();
  const capabilities = new Set<string>();
  for (const step of stepViews(document)) {
    for (const usage of agentUsages(step)) agents.add(usage.slug);
    const orchestration = stringAt(step.fields, 'orchestration');
    if (orchestration) orchestrations.add(orchestration);
    for (const { capability } of capabilityUsages(step)) capabilities.add(capability);
  }
  return { agents: [...agents], orchestrations: [...orchestrations], capabilities: [...capabilities] };
}

function agentUsages(step: StepView): { slug: string; path: string }[] {
  const usages: { slug: string; path: string }[] = [];
  const agent = stringAt(step.fields, 'agent');
  if (agent) usages.push({ slug: agent, path: `${step.path}.agent` });
  for (const { value, index } of stringsAt(step.fields, 'fallbackAgents'))
    usages.push({ slug: value, path: `${step.path}.fallbackAgents[${index}]` });
  const rollback = step.fields.rollback;
  if (isObject(rollback) && typeof rollback.agent === 'string') usages.push({ slug: rollback.agent, path: `${step.path}.rollback.agent` });
  for (const participant of participantsOf(step))
    if (participant.agent) usages.push({ slug: participant.agent, path: participant.agentPath });
  const selector = step.fields.selector;
  if (isObject(selector) && typeof selector.agent === 'string') usages.push({ slug: selector.agent, path: `${step.path}.selector.agent` });
  return usages;
}

function capabilityUsages(step: StepView): { capability: string; path: string }[] {
  const usages: { capability: string; path: string }[] = [];
  const capability = stringAt(step.fields, 'capability');
  if (capability) usages.push({ capability, path: `${step.path}.capability` });
  for (const participant of participantsOf(step))
    if (participant.capability) usages.push({ capability: participant.capability, path: `${participant.path}.capability` });
  return usages;
}

interface ParticipantView {
  path: string;
  agentPath: string;
  agent?: string;
  capability?: string;
  name?: string;
  priority?: unknown;
}

/** A group step's participants as written (a string is an agent slug), read defensively. */
function participantsOf(step: StepView): ParticipantView[] {
  const list = step.fields.participants;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index): ParticipantView[] => {
    const path = `${step.path}.participants[${index}]`;
    if (typeof item === 'string') return [{ path, agentPath: path, agent: item }];
    if (!isObject(item)) return [];
    return [{ path, agentPath: `${path}.agent`, agent: stringAt(item, 'agent'), capability: stringAt(item, 'capability'), name: stringAt(item, 'name'), priority: item.priority }];
  });
}

/** The fields only a group step has. */
const GROUP_FIELDS = ['participants', 'strategy', 'selector', 'maxTurns', 'maxConsecutiveTurns', 'termination'];

/** What a group step needs: distinct participants that each name one agent or capability, a selector exactly for llm. */
function groupShape(step: StepView): ProblemDetail[] {
  const problem = (path: string, message: string): ProblemDetail => ({ path, message, code: 'group_shape' });
  const has = (name: string) => step.fields[name] !== undefined;
  if (step.type !== 'group')
    return GROUP_FIELDS.filter(has).map((field) => problem(`${step.path}.${field}`, `${field} only applies to group steps (set type: group)`));
  const problems: ProblemDetail[] = [];
  if (!has('participants')) problems.push(problem(`${step.path}.participants`, 'group steps need participants (2 to 10 agents or capabilities)'));
  for (const field of ['agent', 'capability', 'orchestration', 'fallbackAgents', 'fallback', 'forEach', 'concurrency', 'failFast', 'version'])
    if (has(field)) problems.push(problem(`${step.path}.${field}`, `a group step's agents are its participants: remove ${field}`));
  const strategy = stringAt(step.fields, 'strategy') ?? 'round-robin';
  const names = new Map<string, string>();
  for (const participant of participantsOf(step)) {
    if (participant.agent === undefined && participant.capability === undefined)
      problems.push(problem(participant.path, 'a participant names an agent or a capability'));
    if (participant.agent !== undefined && participant.capability !== undefined)
      problems.push(problem(`${participant.path}.capability`, 'name either an agent or a capability, not both'));
    if (participant.priority !== undefined && strategy !== 'priority')
      problems.push(problem(`${participant.path}.priority`, 'priority only applies with strategy: priority'));
    const name = participant.name ?? participant.agent ?? participant.capability;
    if (name === undefined) continue;
    const earlier = names.get(name);
    if (earlier !== undefined)
      problems.push(problem(participant.path, `two participants are named "${name}" (also ${earlier}): give one a name`));
    else names.set(name, participant.path);
  }
  if (strategy === 'llm' && !has('selector'))
    problems.push(problem(`${step.path}.selector`, 'strategy llm needs a selector agent that names the next speaker'));
  if (strategy !== 'llm' && has('selector')) problems.push(problem(`${step.path}.selector`, 'a selector only applies with strategy: llm'));
  return problems;
}

/** A termination condition reads the transcript only (`group.*`), and `group.*` exists nowhere else. */
function groupRoots(steps: StepView[]): ProblemDetail[] {
  return steps.flatMap((step) => {
    return templateFields(step).flatMap(([value, path]) => {
      if (value === undefined) return [];
      const inCondition = path === `${step.path}.termination.condition`;
      const scan = extractTemplateReferences(value as JsonValue, path);
      const problems: ProblemDetail[] = inCondition ? [...scan.problems] : [];
      for (const ref of scan.references) {
        if (inCondition && ref.root !== 'group')
          problems.push({
            path: ref.path,
            message: `"{{ ${ref.expression} }}": a termination condition reads only group.transcript, group.last and group.turn`,
            code: 'template_root',
          });
        if (!inCondition && ref.root === 'group')
          problems.push({
            path: ref.path,
            message: `"{{ ${ref.expression} }}": group is only defined in the termination condition of a group step`,
            code: 'template_root',
          });
      }
      if (inCondition && typeof value === 'string' && scan.problems.length === 0 && scan.references.length === 0)
        problems.push({ path, message: 'a termination condition is a template, e.g. "{{ group.last.output.done }}"', code: 'template_root' });
      return problems;
    });
  });
}

function duplicateKeys(steps: StepView[]): ProblemDetail[] {
  const first = new Map<string, StepView>();
  const problems: ProblemDetail[] = [];
  for (const step of steps) {
    if (step.key === undefined) continue;
    const earlier = first.get(step.key);
    if (earlier)
      problems.push({
        path: `${step.path}.key`,
        message: `duplicate step key "${step.key}" (also ${earlier.path})`,
        code: 'duplicate_key',
      });
    else first.set(step.key, step);
  }
  return problems;
}

/** What each step type needs and refuses, with a message that says how to fix it. */
function stepShape(step: StepView): ProblemDetail[] {
  const has = (name: string) => step.fields[name] !== undefined;
  const problem = (field: string, message: string): ProblemDetail => ({ path: `${step.path}.${field}`, message, code: 'step_shape' });
  const problems: ProblemDetail[] = [];
  if (step.type === 'agent') {
    if (!has('agent') && !has('capability')) problems.push(problem('agent', 'agent steps need an agent (or a capability to route by)'));
    if (has('agent') && has('capability'))
      problems.push(problem('capability', 'name either an agent or a capability (the step is routed to an agent that has it), not both'));
    if (has('fallback') && has('capability')) problems.push(problem('fallback', 'a capability step is routed to a healthy agent already'));
    if (has('orchestration'))
      problems.push(problem('orchestration', 'only orchestration steps run a definition (set type: orchestration)'));
  } else if (step.type === 'orchestration') {
    if (!has('orchestration')) problems.push(problem('orchestration', 'orchestration steps need an orchestration (a definition slug)'));
    if (has('agent')) problems.push(problem('agent', 'orchestration steps run a definition, not an agent'));
    for (const field of ['fallbackAgents', 'fallback', 'capability'])
      if (has(field)) problems.push(problem(field, `${field} only applies to agent steps`));
  } else if (step.type === 'approval') {
    if (!has('approval')) problems.push(problem('approval', 'approval steps need an approval block'));
    for (const field of ['agent', 'capability', 'orchestration', 'fallbackAgents', 'fallback', 'forEach']) {
      if (has(field)) problems.push(problem(field, `approval steps call nothing: remove ${field}`));
    }
  }
  if (step.type !== 'orchestration')
    for (const field of ['forEach', 'concurrency', 'failFast', 'version'])
      if (has(field) && step.type !== 'approval' && step.type !== 'group') problems.push(problem(field, `${field} only applies to orchestration steps`));
  if (!has('forEach'))
    for (const field of ['concurrency', 'failFast'])
      if (has(field) && step.type === 'orchestration') problems.push(problem(field, `${field} only applies with forEach`));
  const forEach = stringAt(step.fields, 'forEach');
  if (forEach !== undefined && !/^\s*\{\{[^{}]*\}\}\s*$/.test(forEach)) {
    problems.push(problem('forEach', 'forEach must be one template that yields an array, e.g. "{{ input.regions }}"'));
  }
  if (step.fields.reversible === true && !has('rollback')) problems.push(problem('rollback', 'reversible steps need a rollback'));
  if (has('cache')) {
    if (step.type !== 'agent')
      problems.push(problem('cache', `only agent steps can reuse an output (a${step.type === 'approval' ? 'n approval' : 'n orchestration'} step calls no agent)`));
    else if (has('approval'))
      problems.push(problem('cache', 'a step with an approval cannot reuse an output: each output needs its own decision (put the approval on a step of its own)'));
  }
  const approval = step.fields.approval;
  if (isObject(approval) && typeof approval.quorum === 'number' && Array.isArray(approval.assignees) && approval.assignees.length > 0) {
    if (approval.quorum > approval.assignees.length) {
      problems.push({
        path: `${step.path}.approval.quorum`,
        message: `quorum ${approval.quorum} exceeds the ${approval.assignees.length} assignee(s)`,
        code: 'step_shape',
      });
    }
  }
  return problems;
}

function unknownAgents(steps: StepView[], catalog: DefinitionCatalog): ProblemDetail[] {
  return steps.flatMap((step) =>
    agentUsages(step)
      .filter(({ slug }) => !isBuiltinAgent(slug) && !catalog.agents.has(slug))
      .map(({ slug, path }) => ({ path, message: `unknown agent "${slug}"`, code: 'unknown_agent' })),
  );
}

function unknownCapabilities(steps: StepView[], catalog: DefinitionCatalog): ProblemDetail[] {
  return steps.flatMap((step) =>
    capabilityUsages(step)
      .filter(({ capability }) => !catalog.capabilities?.has(capability))
      .map(({ capability, path }) => ({ path, message: `no active agent has the capability "${capability}"`, code: 'unknown_capability' })),
  );
}

function unknownOrchestrations(document: Fields, steps: StepView[], catalog: DefinitionCatalog): ProblemDetail[] {
  const ownSlug = stringAt(document, 'slug');
  return steps.flatMap((step) => {
    const slug = stringAt(step.fields, 'orchestration');
    const path = `${step.path}.orchestration`;
    if (slug === undefined) return [];
    if (slug === ownSlug)
      return [{ path, message: `a definition cannot run itself as a sub-orchestration ("${slug}")`, code: 'unknown_orchestration' }];
    if (!catalog.activeDefinitions.has(slug))
      return [{ path, message: `no active definition "${slug}" in this organization`, code: 'unknown_orchestration' }];
    const cycle = ownSlug === undefined ? null : pathBack(slug, ownSlug, catalog.orchestrationGraph ?? new Map());
    if (cycle)
      return [{ path, message: `sub-orchestration cycle: ${[ownSlug, ...cycle].join(' -> ')}`, code: 'orchestration_cycle' }];
    return [];
  });
}

/** The chain of definitions from `from` that runs `target` again (`[from, ..., target]`), or null (depth-first). */
export function pathBack(from: string, target: string, graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const seen = new Set<string>();
  const walk = (slug: string): string[] | null => {
    if (slug === target) return [slug];
    if (seen.has(slug)) return null;
    seen.add(slug);
    for (const next of graph.get(slug) ?? []) {
      const rest = walk(next);
      if (rest) return [slug, ...rest];
    }
    return null;
  };
  return walk(from);
}

/** The fields of a step that hold templates, each with its JSON path (absent ones undefined). */
function templateFields(step: StepView): [unknown, string][] {
  const termination = step.fields.termination;
  return [
    [step.fields.input, `${step.path}.input`],
    [step.fields.forEach, `${step.path}.forEach`],
    [isObject(step.fields.approval) ? step.fields.approval.payload : undefined, `${step.path}.approval.payload`],
    [isObject(step.fields.rollback) ? step.fields.rollback.input : undefined, `${step.path}.rollback.input`],
    [isObject(termination) ? termination.condition : undefined, `${step.path}.termination.condition`],
  ];
}

/** `item` and `index` exist only for the children of a forEach: anywhere else they are a mistake. */
function forEachRoots(steps: StepView[]): ProblemDetail[] {
  return steps.flatMap((step) => {
    return templateFields(step).flatMap(([value, path]) => {
      if (value === undefined) return [];
      const inForEachInput = step.fields.forEach !== undefined && path === `${step.path}.input`;
      return extractTemplateReferences(value as JsonValue, path)
        .references.filter((ref) => (ref.root === 'item' || ref.root === 'index') && !inForEachInput)
        .map((ref) => ({
          path: ref.path,
          message: `"{{ ${ref.expression} }}": ${ref.root} is only defined in the input of a forEach step`,
          code: 'template_root',
        }));
    });
  });
}

function unknownDependencies(steps: StepView[], byKey: Map<string, StepView>): ProblemDetail[] {
  return steps.flatMap((step) =>
    step.dependsOn
      .filter((dep) => !byKey.has(dep.key))
      .map((dep) => ({ path: `${step.path}.dependsOn[${dep.index}]`, message: `unknown step "${dep.key}"`, code: 'unknown_step' })),
  );
}

/**
 * One problem per cycle found by a depth-first walk (each back edge closes one cycle). A cycle is named
 * from the step listed first, following dependsOn: `a -> b` reads "a depends on b".
 */
function dependencyCycles(steps: StepView[], byKey: Map<string, StepView>): ProblemDetail[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const problems: ProblemDetail[] = [];

  const visit = (key: string) => {
    state.set(key, 'visiting');
    stack.push(key);
    for (const dep of (byKey.get(key) as StepView).dependsOn) {
      if (!byKey.has(dep.key)) continue;
      const depState = state.get(dep.key);
      if (depState === 'visiting') report(stack.slice(stack.indexOf(dep.key)));
      else if (depState === undefined) visit(dep.key);
    }
    stack.pop();
    state.set(key, 'done');
  };

  const report = (cycle: string[]) => {
    const start = cycle.reduce(
      (best, key, i) => ((byKey.get(key) as StepView).index < (byKey.get(cycle[best]) as StepView).index ? i : best),
      0,
    );
    const ordered = [...cycle.slice(start), ...cycle.slice(0, start)];
    const name = [...ordered, ordered[0]].join(' -> ');
    if (seen.has(name)) return;
    seen.add(name);
    const first = byKey.get(ordered[0]) as StepView;
    const next = ordered[1] ?? ordered[0];
    const edge = first.dependsOn.find((dep) => dep.key === next);
    problems.push({
      path: `${first.path}.dependsOn${edge ? `[${edge.index}]` : ''}`,
      message: `dependency cycle: ${name}`,
      code: 'dependency_cycle',
    });
  };

  for (const step of steps) if (step.key !== undefined && byKey.get(step.key) === step && !state.has(step.key)) visit(step.key);
  return problems;
}

/** Every transitive dependency of each step (terminates on cycles, which are reported separately). */
function upstreamOf(byKey: Map<string, StepView>): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const key of byKey.keys()) {
    const seen = new Set<string>();
    const pending = (byKey.get(key) as StepView).dependsOn.map((d) => d.key);
    while (pending.length > 0) {
      const next = pending.pop() as string;
      if (seen.has(next) || !byKey.has(next)) continue;
      seen.add(next);
      pending.push(...(byKey.get(next) as StepView).dependsOn.map((d) => d.key));
    }
    result.set(key, seen);
  }
  return result;
}

/**
 * Template syntax, and the steps templates read: a step's input and forEach may read only its upstream;
 * its approval payload and rollback input also its own output (they are used after it ran); the
 * definition's output mapping any step.
 */
function templateProblems(document: Fields, steps: StepView[], byKey: Map<string, StepView>): ProblemDetail[] {
  const upstream = upstreamOf(byKey);
  const problems: ProblemDetail[] = [];
  const check = (value: unknown, path: string, reader: string | null, allowed: ReadonlySet<string> | null) => {
    if (value === undefined) return;
    const scan = extractTemplateReferences(value as JsonValue, path);
    problems.push(...scan.problems);
    for (const ref of scan.references) {
      if (ref.stepKey === undefined) continue;
      if (!byKey.has(ref.stepKey)) {
        problems.push({
          path: ref.path,
          message: `template "{{ ${ref.expression} }}" reads unknown step "${ref.stepKey}"`,
          code: 'unknown_step',
        });
      } else if (allowed && reader !== null && !allowed.has(ref.stepKey)) {
        problems.push({
          path: ref.path,
          message: `template "{{ ${ref.expression} }}" reads step "${ref.stepKey}", which is not upstream of "${reader}" (add it to dependsOn)`,
          code: 'not_upstream',
        });
      }
    }
  };
  for (const step of steps) {
    // A duplicate (or keyless) step has no dependency set of its own: only check that its templates name real steps.
    const own = step.key !== undefined && byKey.get(step.key) === step;
    const before = own ? (upstream.get(step.key as string) as Set<string>) : null;
    const withSelf = before ? new Set([...before, step.key as string]) : null;
    const reader = step.key ?? `steps[${step.index}]`;
    check(step.fields.input, `${step.path}.input`, reader, before);
    check(step.fields.forEach, `${step.path}.forEach`, reader, before);
    const approval = step.fields.approval;
    if (isObject(approval)) check(approval.payload, `${step.path}.approval.payload`, reader, withSelf);
    const rollback = step.fields.rollback;
    if (isObject(rollback)) check(rollback.input, `${step.path}.rollback.input`, reader, withSelf);
    // The cache key is rendered with the input, before the step runs: it may read what the input may.
    const cache = step.fields.cache;
    if (isObject(cache)) check(cache.key, `${step.path}.cache.key`, reader, before);
  }
  check(document.output, '$.output', null, null);
  return problems;
}

// Compiles author-supplied schemas the way the engine does (draft-07, formats, non-strict) to prove they work.
const schemaCompiler = new Ajv.default({ allErrors: true, strict: false });
addFormats.default(schemaCompiler);

function jsonSchemaProblem(schema: unknown, path: string): ProblemDetail[] {
  if (!isObject(schema)) return [];
  try {
    schemaCompiler.compile(schema);
    return [];
  } catch (error) {
    return [{ path, message: `not a valid JSON Schema: ${(error as Error).message}`, code: 'invalid_schema' }];
  } finally {
    // The compiler caches by schema: forget it so a long-lived process does not grow, and $ids never collide.
    schemaCompiler.removeSchema(schema);
  }
}

function schemaFields(document: Fields, steps: StepView[]): ProblemDetail[] {
  const problems = jsonSchemaProblem(document.input, '$.input');
  for (const step of steps) {
    const approval = step.fields.approval;
    if (isObject(approval)) problems.push(...jsonSchemaProblem(approval.modificationsSchema, `${step.path}.approval.modificationsSchema`));
  }
  return problems;
}

/** Every semantic problem of the document; an empty list means the definition can be saved and run. */
export function semanticProblems(document: unknown, catalog: DefinitionCatalog): ProblemDetail[] {
  if (!isObject(document)) return [];
  const steps = stepViews(document);
  const byKey = new Map<string, StepView>();
  for (const step of steps) if (step.key !== undefined && !byKey.has(step.key)) byKey.set(step.key, step);
  return [
    ...duplicateKeys(steps),
    ...steps.flatMap(stepShape),
    ...steps.flatMap(groupShape),
    ...unknownAgents(steps, catalog),
    ...unknownCapabilities(steps, catalog),
    ...unknownOrchestrations(document, steps, catalog),
    ...unknownDependencies(steps, byKey),
    ...dependencyCycles(steps, byKey),
    ...templateProblems(document, steps, byKey),
    ...forEachRoots(steps),
    ...groupRoots(steps),
    ...schemaFields(document, steps),
  ];
}
