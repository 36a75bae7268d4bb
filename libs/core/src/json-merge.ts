/** Merging an approver's modifications into a step's output or input, and describing what they changed. */
import type { JsonValue } from './definition-spec.js';

const isObject = (v: JsonValue | undefined): v is { [key: string]: JsonValue } => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Objects merge key by key (recursively); anything else in `patch` replaces what is in `base`. */
export function deepMerge(base: JsonValue | undefined, patch: JsonValue | undefined): JsonValue {
  if (patch === undefined) return base ?? null;
  if (!isObject(base) || !isObject(patch)) return patch;
  const out: { [key: string]: JsonValue } = { ...base };
  for (const [key, value] of Object.entries(patch)) out[key] = deepMerge(base[key], value);
  return out;
}

export interface JsonChange {
  op: 'add' | 'remove' | 'replace';
  path: string;
  from?: JsonValue;
  to?: JsonValue;
}

/** The leaf-level differences from `before` to `after`, with JSON paths. */
export function jsonDiff(before: JsonValue | undefined, after: JsonValue | undefined, path = '$'): JsonChange[] {
  if (before === undefined && after === undefined) return [];
  if (before === undefined) return [{ op: 'add', path, to: after }];
  if (after === undefined) return [{ op: 'remove', path, from: before }];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => jsonDiff(before[key], after[key], `${path}.${key}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ op: 'replace', path, from: before, to: after }];
}
