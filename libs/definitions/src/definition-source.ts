/**
 * Turns what a client sent (a parsed JSON body, or YAML/JSON text) into a plain JSON document, or into
 * problems at path `$`. YAML is parsed with the core schema (no custom tags, no dates), duplicate keys are
 * errors, and alias expansion is bounded by the parser, so a hostile document cannot blow up memory.
 */
import { parse, YAMLError } from 'yaml';
import { jsonPathChild, type ProblemDetail } from '#core';

export interface ParsedSource {
  document?: unknown;
  problems: ProblemDetail[];
}

/** Values JSON cannot carry (NaN, Infinity from `.nan`/`.inf`, undefined...), each with its path. */
function nonJsonValues(value: unknown, path: string): ProblemDetail[] {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return [];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [{ path, message: `${value} is not a JSON number`, code: 'syntax' }];
  if (Array.isArray(value)) return value.flatMap((item, i) => nonJsonValues(item, jsonPathChild(path, i)));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.entries(value).flatMap(([key, item]) => nonJsonValues(item, jsonPathChild(path, key)));
  }
  return [{ path, message: `a ${typeof value} is not a JSON value`, code: 'syntax' }];
}

export function parseDefinitionSource(raw: unknown): ParsedSource {
  let document: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.trim() === '') return { problems: [{ path: '$', message: 'the definition is empty', code: 'syntax' }] };
    try {
      document = parse(raw, { schema: 'core', uniqueKeys: true, prettyErrors: true, logLevel: 'error' });
    } catch (error) {
      const message = error instanceof YAMLError ? error.message : (error as Error).message;
      return { problems: [{ path: '$', message: `not valid YAML or JSON: ${message}`, code: 'syntax' }] };
    }
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    const what = raw === undefined ? 'nothing' : Array.isArray(document) ? 'an array' : document === null ? 'null' : `a ${typeof document}`;
    return {
      problems: [
        {
          path: '$',
          message: `a definition must be an object (JSON, or YAML text with Content-Type application/yaml), got ${what}`,
          code: 'syntax',
        },
      ],
    };
  }
  const problems = nonJsonValues(document, '$');
  return problems.length > 0 ? { problems } : { document, problems: [] };
}
