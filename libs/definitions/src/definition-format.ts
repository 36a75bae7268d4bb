/**
 * Presenting a stored definition. jsonb stores keys in its own order (shortest first), so a definition read
 * back would list `key` after `input`; this puts fields back in the order of DESIGN.md section 4, keeping
 * the values untouched, for JSON and YAML answers alike.
 */
import { stringify } from 'yaml';
import type { DefinitionSpec } from '#core';

const DEFINITION_ORDER = ['slug', 'name', 'description', 'input', 'output', 'defaults', 'concurrency', 'compensate', 'budget', 'steps'];
const STEP_ORDER = [
  'key',
  'type',
  'agent',
  'capability',
  'orchestration',
  'forEach',
  'participants',
  'strategy',
  'selector',
  'maxTurns',
  'maxConsecutiveTurns',
  'termination',
  'dependsOn',
  'input',
  'approval',
  'retry',
  'timeoutMs',
  'cache',
  'reversible',
  'rollback',
  'fallbackAgents',
  'fallback',
];
const APPROVAL_ORDER = [
  'prompt',
  'timeoutMs',
  'onTimeout',
  'payload',
  'decisions',
  'roles',
  'assignees',
  'quorum',
  'escalateAfterMs',
  'modificationsSchema',
];
const RETRY_ORDER = ['maxAttempts', 'backoff', 'initialDelayMs', 'maxDelayMs', 'jitter', 'nonRetryable'];
const JSON_SCHEMA_ORDER = ['$schema', '$id', 'title', 'description', 'type', 'required', 'properties', 'items', 'additionalProperties'];

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A copy of `value` with `order` keys first (in that order), then the others in their existing order. */
function ordered(value: unknown, order: string[], nested: Record<string, (v: unknown) => unknown> = {}): unknown {
  if (!isObject(value)) return value;
  const keys = [...order.filter((k) => k in value), ...Object.keys(value).filter((k) => !order.includes(k))];
  const out: Fields = {};
  for (const key of keys) {
    const transform = nested[key];
    Object.defineProperty(out, key, {
      value: transform ? transform(value[key]) : value[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const retry = (v: unknown) => ordered(v, RETRY_ORDER);
const jsonSchema = (v: unknown) => ordered(v, JSON_SCHEMA_ORDER);

export function orderDefinitionSpec(spec: DefinitionSpec): DefinitionSpec {
  const step = (v: unknown) =>
    ordered(v, STEP_ORDER, {
      retry,
      approval: (a) => ordered(a, APPROVAL_ORDER, { modificationsSchema: jsonSchema }),
      rollback: (r) => ordered(r, ['agent', 'input', 'timeoutMs', 'retry'], { retry }),
    });
  return ordered(spec, DEFINITION_ORDER, {
    input: jsonSchema,
    defaults: (d) => ordered(d, ['retry', 'timeoutMs'], { retry }),
    steps: (steps) => (Array.isArray(steps) ? steps.map(step) : steps),
  }) as DefinitionSpec;
}

/** The definition as YAML, in the same shape one would write by hand (and that POST accepts back). */
export function definitionToYaml(spec: DefinitionSpec): string {
  return stringify(orderDefinitionSpec(spec), { lineWidth: 0, aliasDuplicateObjects: false });
}
