/**
 * Validation of a parsed definition document: the JSON Schema of the format, then the semantic checks,
 * all problems together, each with a JSON path (`$.steps[1].dependsOn[0]`). Pure: the catalog of the
 * organization's agents and definitions is looked up by the caller.
 */
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { jsonPathChild, type DefinitionSpec, type ProblemDetail } from '#core';
import { semanticProblems, type DefinitionCatalog } from './definition-checks.js';
import { DEFINITION_JSON_SCHEMA } from './definition-schema.js';

export interface ValidationReport {
  valid: boolean;
  problems: ProblemDetail[];
  /** The definition, when valid. */
  spec?: DefinitionSpec;
}

const ajv = new Ajv.default({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats.default(ajv);
// Keywords that document the format (defaults, descriptions) are not validation keywords in strict mode.
const validateShape = ajv.compile(DEFINITION_JSON_SCHEMA);

/** `/steps/1/key` -> `$.steps[1].key` (JSON Pointer unescaped; all-digit segments are array indexes). */
export function instancePathToJsonPath(instancePath: string): string {
  if (instancePath === '') return '$';
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, segment) => jsonPathChild(path, /^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment), '$');
}

function toProblem(error: ErrorObject): ProblemDetail {
  const path = instancePathToJsonPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return {
        path: jsonPathChild(path, String(params.missingProperty)),
        message: `required field "${String(params.missingProperty)}" is missing`,
        code: 'schema',
      };
    case 'additionalProperties':
      return {
        path: jsonPathChild(path, String(params.additionalProperty)),
        message: `unknown field "${String(params.additionalProperty)}"`,
        code: 'schema',
      };
    case 'enum':
      return { path, message: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`, code: 'schema' };
    default:
      return { path, message: error.message ?? `fails ${error.keyword}`, code: 'schema' };
  }
}

function schemaProblems(document: unknown): ProblemDetail[] {
  if (validateShape(document)) return [];
  const seen = new Set<string>();
  return (validateShape.errors ?? []).map(toProblem).filter((p) => {
    const id = `${p.path}\u0000${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The schema's bound on steps, checked first: the schema (allErrors) and the semantic checks both grow with it. */
const MAX_STEPS = DEFINITION_JSON_SCHEMA.properties.steps.maxItems;

/** Validates a parsed document against the format and the organization's catalog. */
export function validateDefinitionDocument(document: unknown, catalog: DefinitionCatalog): ValidationReport {
  const steps = (document as { steps?: unknown } | null)?.steps;
  if (Array.isArray(steps) && steps.length > MAX_STEPS) {
    // Refused before any per-step work, so a huge document costs a length check, not minutes of checks.
    return { valid: false, problems: [{ path: '$.steps', message: `must NOT have more than ${MAX_STEPS} items (got ${steps.length})`, code: 'schema' }] };
  }
  const problems = [...schemaProblems(document), ...semanticProblems(document, catalog)];
  return problems.length === 0 ? { valid: true, problems, spec: document as DefinitionSpec } : { valid: false, problems };
}
