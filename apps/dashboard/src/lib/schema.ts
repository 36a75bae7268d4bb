import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { JsonSchema } from '../api/types';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

export interface FieldProblem {
  path: string;
  message: string;
}

/** Validates a value against a JSON Schema in the browser (ajv, the same library the server uses). */
export function validateAgainst(schema: object, value: unknown): FieldProblem[] {
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    return [{ path: '$', message: `the schema itself is invalid: ${(error as Error).message}` }];
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e: ErrorObject) => ({ path: toJsonPath(e), message: e.message ?? 'is invalid' }));
}

function toJsonPath(error: ErrorObject): string {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  return ['$', ...segments.map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))].join('');
}

export type FieldKind = 'text' | 'number' | 'integer' | 'boolean' | 'select' | 'json';

export interface FormField {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  options?: string[];
  description?: string;
  defaultValue: string | boolean;
}

/**
 * The form fields an object schema asks for: one per property, by type. Nested objects and arrays are edited as
 * JSON. A schema that is not an object with properties gets one JSON field for the whole input.
 */
export function fieldsOf(schema: JsonSchema | undefined): FormField[] {
  if (!schema || schema.type !== 'object' || !schema.properties) {
    return [{ name: '', label: 'Input (JSON)', kind: 'json', required: false, defaultValue: '{}' }];
  }
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => {
    const type = Array.isArray(property.type) ? property.type.find((t) => t !== 'null') : property.type;
    const kind: FieldKind = property.enum
      ? 'select'
      : type === 'string'
        ? 'text'
        : type === 'number'
          ? 'number'
          : type === 'integer'
            ? 'integer'
            : type === 'boolean'
              ? 'boolean'
              : 'json';
    const fallback = kind === 'boolean' ? false : kind === 'json' ? (type === 'array' ? '[]' : '{}') : '';
    const defaultValue =
      property.default === undefined ? fallback : kind === 'json' ? JSON.stringify(property.default) : kind === 'boolean' ? Boolean(property.default) : String(property.default);
    return {
      name,
      label: property.title ?? name,
      kind,
      required: required.has(name),
      options: property.enum?.map(String),
      description: property.description,
      defaultValue,
    };
  });
}

/** Turns the form's values into the run input; a JSON field that does not parse is reported at its path. */
export function inputFrom(fields: FormField[], values: Record<string, string | boolean>): { input: unknown; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const parse = (text: string, path: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      problems.push({ path, message: 'is not valid JSON' });
      return undefined;
    }
  };
  if (fields.length === 1 && fields[0]!.name === '') return { input: parse(String(values[''] ?? '{}'), '$'), problems };
  const input: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = values[field.name] ?? field.defaultValue;
    const path = `$.${field.name}`;
    if (field.kind === 'boolean') input[field.name] = Boolean(raw);
    else if (raw === '') continue; // left empty: absent (the schema says whether that is allowed)
    else if (field.kind === 'number' || field.kind === 'integer') input[field.name] = Number(raw);
    else if (field.kind === 'json') input[field.name] = parse(String(raw), path);
    else input[field.name] = raw;
  }
  return { input, problems };
}
