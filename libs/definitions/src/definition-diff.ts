/**
 * Comparing definition versions: structural equality (what `apply` uses to decide whether a file is a new
 * version; PostgreSQL jsonb does not keep key order, so order of keys never counts) and a step-level diff.
 */
import type { DefinitionSpec, StepSpec } from '#core';

export interface StepChange {
  key: string;
  /** Step fields whose value differs, sorted. */
  fields: string[];
}

export interface DefinitionDiff {
  slug: string;
  from: number;
  to: number;
  /** Step keys only in `to`. */
  added: string[];
  /** Step keys only in `from`. */
  removed: string[];
  changed: StepChange[];
  /** Top-level fields other than `steps` whose value differs, sorted. */
  definitionChanges: string[];
}

/** JSON text with object keys sorted at every level: equal texts mean equal JSON values. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function differingFields(a: object, b: object, skip: ReadonlySet<string> = new Set()): string[] {
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const names = new Set([...Object.keys(left), ...Object.keys(right)]);
  return [...names].filter((name) => !skip.has(name) && !sameJson(left[name], right[name])).sort();
}

export function diffDefinitions(
  slug: string,
  from: { version: number; spec: DefinitionSpec },
  to: { version: number; spec: DefinitionSpec },
): DefinitionDiff {
  const before = new Map<string, StepSpec>(from.spec.steps.map((s) => [s.key, s]));
  const after = new Map<string, StepSpec>(to.spec.steps.map((s) => [s.key, s]));
  const changed: StepChange[] = [];
  for (const [key, step] of after) {
    const previous = before.get(key);
    if (!previous) continue;
    const fields = differingFields(previous, step);
    if (fields.length > 0) changed.push({ key, fields });
  }
  return {
    slug,
    from: from.version,
    to: to.version,
    added: [...after.keys()].filter((key) => !before.has(key)),
    removed: [...before.keys()].filter((key) => !after.has(key)),
    changed,
    definitionChanges: differingFields(from.spec, to.spec, new Set(['steps'])),
  };
}
