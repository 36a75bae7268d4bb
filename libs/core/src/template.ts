/**
 * The template language of step inputs: `{{ input.a }}`, `{{ steps.<key>.output.x[0].y }}`, `{{ run.id }}`.
 * Expressions are property paths, never code: they are parsed here and resolved by walking plain data, so a
 * definition cannot execute anything (no eval, no Function) nor reach prototypes (`__proto__`, `constructor`,
 * `prototype` segments are rejected, and only own properties are read).
 *
 * The same parser serves validation (`extractTemplateReferences`, used on save to check that templates only
 * read upstream steps) and execution (`renderTemplate`, used by the engine), so what validates is what runs.
 */
import type { ProblemDetail } from './domain-error.js';
import type { JsonValue } from './definition-spec.js';

/**
 * `item` and `index`: the element of a forEach and its position (only in the input of a forEach step); `group`: the
 * transcript of a group step (only in its termination condition).
 */
export const TEMPLATE_ROOTS = ['input', 'steps', 'run', 'item', 'index', 'context', 'group'] as const;

/** Fields of `group` a group step's termination condition may read: every turn so far, the last one, its number. */
export const TEMPLATE_GROUP_FIELDS = ['transcript', 'last', 'turn'] as const;

/**
 * Fields of `context` a template may read: the run's conversation (A2A contextId) and its recent history, oldest first,
 * each entry `{ seq, role, text, parts }` (BATON_CONTEXT_HISTORY_LIMIT entries at most); a run outside a conversation
 * reads `null` and `[]`.
 */
export const TEMPLATE_CONTEXT_FIELDS = ['id', 'history'] as const;
export type TemplateRoot = (typeof TEMPLATE_ROOTS)[number];

/** Fields of `run` a template may read. */
export const TEMPLATE_RUN_FIELDS = ['id', 'organizationId'] as const;

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

export interface TemplateReference {
  /** JSON path of the string holding the template, e.g. `$.steps[1].input.rows`. */
  path: string;
  /** The expression between the braces, trimmed: `steps.fetch.output.rows`. */
  expression: string;
  root: TemplateRoot;
  /** For `steps.<key>...` references: the step read. */
  stepKey?: string;
}

export interface TemplateScan {
  references: TemplateReference[];
  problems: ProblemDetail[];
}

export interface TemplateContext {
  input: JsonValue;
  steps: Record<string, { output: JsonValue }>;
  /** What `run.*` templates read; a missing field reads as null. */
  run?: { id?: string; organizationId?: string };
  /** The forEach element and its index (child inputs of a forEach step); absent reads as null. */
  item?: JsonValue;
  index?: number;
  /** The run's conversation: `context.id`, `context.history`. */
  context?: { id: string | null; history: JsonValue[] };
  /** A group step's transcript (its termination condition): `group.transcript`, `group.last`, `group.turn`. */
  group?: { transcript: JsonValue[]; last: JsonValue; turn: number };
}

/** A template that cannot be rendered: bad syntax, an unknown root, or a step the context does not hold. */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** JSON path of the string holding the template. */
    readonly path: string,
    readonly expression: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

type Segment = string | number;

interface ParsedExpression {
  root: TemplateRoot;
  /** Segments after the root (for `steps`, starting with the step key and `output`). */
  segments: Segment[];
  stepKey?: string;
}

type Part = { kind: 'text'; text: string } | { kind: 'expression'; expression: string };

interface Failure {
  code: string;
  message: string;
  expression: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*/;
const DOT_SEGMENT = /^[A-Za-z0-9_$-]+/;
const STEP_KEY = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The JSON path of `key` below `base`: `$.a`, `$.a[0]`, `$["odd key"]`. */
export function jsonPathChild(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Splits a string into text and `{{ }}` expressions; the first syntax failure stops the scan. */
function tokenize(text: string): { parts: Part[]; failure?: Failure } {
  const parts: Part[] = [];
  let position = 0;
  while (position < text.length) {
    const open = text.indexOf('{{', position);
    const strayClose = text.indexOf('}}', position);
    if (strayClose !== -1 && (open === -1 || strayClose < open)) {
      return {
        parts,
        failure: { code: 'template_unbalanced', message: 'unbalanced braces: "}}" without a matching "{{"', expression: '' },
      };
    }
    if (open === -1) {
      parts.push({ kind: 'text', text: text.slice(position) });
      break;
    }
    if (open > position) parts.push({ kind: 'text', text: text.slice(position, open) });
    const close = text.indexOf('}}', open + 2);
    const nested = text.indexOf('{{', open + 2);
    if (close === -1) {
      return {
        parts,
        failure: {
          code: 'template_unbalanced',
          message: 'unbalanced braces: "{{" is never closed',
          expression: text.slice(open + 2).trim(),
        },
      };
    }
    if (nested !== -1 && nested < close) {
      return {
        parts,
        failure: {
          code: 'template_unbalanced',
          message: 'unbalanced braces: "{{" inside a template',
          expression: text.slice(open + 2, close).trim(),
        },
      };
    }
    const expression = text.slice(open + 2, close).trim();
    if (expression === '') return { parts, failure: { code: 'template_empty', message: 'empty template expression "{{ }}"', expression } };
    parts.push({ kind: 'expression', expression });
    position = close + 2;
  }
  return { parts };
}

function pathFailure(expression: string, message: string): { failure: Failure } {
  return { failure: { code: 'template_path', message: `bad template path "${expression}": ${message}`, expression } };
}

/** Parses `root.a[0]["b c"].d` into segments and checks the root's shape. */
function parseExpression(expression: string): { parsed: ParsedExpression } | { failure: Failure } {
  const head = IDENTIFIER.exec(expression);
  if (!head) return pathFailure(expression, 'expected a path such as input.name or steps.<key>.output');
  const segments: Segment[] = [];
  let rest = expression.slice(head[0].length);
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      const name = DOT_SEGMENT.exec(rest.slice(1));
      if (!name) return pathFailure(expression, `expected a property name after "." at "${rest}"`);
      segments.push(name[0]);
      rest = rest.slice(1 + name[0].length);
      continue;
    }
    const bracket = /^\[(?:(\d+)|"([^"\\]*)"|'([^'\\]*)')\]/.exec(rest);
    if (!bracket) return pathFailure(expression, `unexpected "${rest}" (use .name, [index] or ["name"])`);
    segments.push(bracket[1] !== undefined ? Number(bracket[1]) : (bracket[2] ?? bracket[3]));
    rest = rest.slice(bracket[0].length);
  }
  const root = head[0];
  for (const segment of [root, ...segments]) {
    if (typeof segment === 'string' && FORBIDDEN_SEGMENTS.has(segment)) {
      return {
        failure: { code: 'template_forbidden', message: `"${segment}" is not allowed in template path "${expression}"`, expression },
      };
    }
  }
  if (!(TEMPLATE_ROOTS as readonly string[]).includes(root)) {
    return {
      failure: {
        code: 'template_root',
        message: `unknown root "${root}" in template "${expression}" (expected input, steps, run, item, index, context or group)`,
        expression,
      },
    };
  }
  if (root === 'steps') {
    const [stepKey, output] = segments;
    if (typeof stepKey !== 'string' || !STEP_KEY.test(stepKey) || output !== 'output') {
      return pathFailure(expression, 'expected steps.<key>.output');
    }
    return { parsed: { root, segments, stepKey } };
  }
  if (root === 'index' && segments.length > 0) return pathFailure(expression, 'index is a number: it has no fields');
  if (root === 'context' && !(TEMPLATE_CONTEXT_FIELDS as readonly Segment[]).includes(segments[0] ?? '')) {
    return pathFailure(expression, `expected one of ${TEMPLATE_CONTEXT_FIELDS.map((f) => `context.${f}`).join(', ')}`);
  }
  if (root === 'group' && !(TEMPLATE_GROUP_FIELDS as readonly Segment[]).includes(segments[0] ?? '')) {
    return pathFailure(expression, `expected one of ${TEMPLATE_GROUP_FIELDS.map((f) => `group.${f}`).join(', ')}`);
  }
  if (root === 'run') {
    if (segments.length !== 1 || !(TEMPLATE_RUN_FIELDS as readonly Segment[]).includes(segments[0])) {
      return pathFailure(expression, `expected one of ${TEMPLATE_RUN_FIELDS.map((f) => `run.${f}`).join(', ')}`);
    }
  }
  return { parsed: { root: root as TemplateRoot, segments } };
}

/** Calls `visit` on every string of `value` with its JSON path (object keys are data, not templates). */
function walkStrings(value: JsonValue, path: string, visit: (text: string, path: string) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => walkStrings(item, jsonPathChild(path, i), visit));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) walkStrings(item, jsonPathChild(path, key), visit);
  }
}

/** Every template reference in `value`, and every syntax problem, each with the JSON path of its string. */
export function extractTemplateReferences(value: JsonValue, basePath = '$'): TemplateScan {
  const references: TemplateReference[] = [];
  const problems: ProblemDetail[] = [];
  walkStrings(value, basePath, (text, path) => {
    const { parts, failure } = tokenize(text);
    if (failure) problems.push({ path, message: failure.message, code: failure.code });
    for (const part of parts) {
      if (part.kind !== 'expression') continue;
      const result = parseExpression(part.expression);
      if ('failure' in result) {
        problems.push({ path, message: result.failure.message, code: result.failure.code });
        continue;
      }
      const { root, stepKey } = result.parsed;
      references.push({ path, expression: part.expression, root, ...(stepKey === undefined ? {} : { stepKey }) });
    }
  });
  return { references, problems };
}

/** Walks `segments` from `start` like optional chaining: a missing or null link yields null. */
function follow(start: JsonValue | undefined, segments: Segment[]): JsonValue {
  let current: JsonValue | undefined = start;
  for (const segment of segments) {
    if (current === null || current === undefined || typeof current !== 'object') return null;
    if (Array.isArray(current)) {
      current = typeof segment === 'number' ? current[segment] : segment === 'length' ? current.length : undefined;
    } else {
      const key = String(segment);
      current = Object.hasOwn(current, key) ? current[key] : undefined;
    }
  }
  return current === undefined ? null : current;
}

function resolve(parsed: ParsedExpression, context: TemplateContext, path: string, expression: string): JsonValue {
  switch (parsed.root) {
    case 'input':
      return follow(context.input, parsed.segments);
    case 'run':
      return follow((context.run ?? null) as JsonValue, parsed.segments);
    case 'item':
      return follow(context.item ?? null, parsed.segments);
    case 'index':
      return context.index ?? null;
    case 'context':
      return follow((context.context ?? { id: null, history: [] }) as JsonValue, parsed.segments);
    case 'group':
      return follow((context.group ?? { transcript: [], last: null, turn: 0 }) as JsonValue, parsed.segments);
    case 'steps': {
      const key = parsed.stepKey as string;
      if (!Object.hasOwn(context.steps, key)) throw new TemplateError(`step "${key}" is not available to this template`, path, expression);
      // segments are [key, 'output', ...rest]: start from the output itself.
      return follow(context.steps[key].output, parsed.segments.slice(2));
    }
  }
}

function asText(value: JsonValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function renderString(text: string, context: TemplateContext, path: string): JsonValue {
  const { parts, failure } = tokenize(text);
  if (failure) throw new TemplateError(failure.message, path, failure.expression);
  const values = parts.map((part) => {
    if (part.kind === 'text') return part.text;
    const result = parseExpression(part.expression);
    if ('failure' in result) throw new TemplateError(result.failure.message, path, part.expression);
    return resolve(result.parsed, context, path, part.expression);
  });
  // A string that is exactly one template yields the value itself (an object stays an object).
  if (parts.length === 1 && parts[0].kind === 'expression') return values[0];
  return parts.map((part, i) => (part.kind === 'text' ? part.text : asText(values[i]))).join('');
}

/**
 * Renders every string of `value` against `context`. Object keys are copied as they are. Throws TemplateError
 * on bad syntax, an unknown root, or a step key the context does not hold.
 */
export function renderTemplate(value: JsonValue, context: TemplateContext, basePath = '$'): JsonValue {
  if (typeof value === 'string') return renderString(value, context, basePath);
  if (Array.isArray(value)) return value.map((item, i) => renderTemplate(item, context, jsonPathChild(basePath, i)));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a "__proto__" key in the data stays a plain property instead of replacing the prototype.
      Object.defineProperty(out, key, {
        value: renderTemplate(item, context, jsonPathChild(basePath, key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
