/**
 * The `sql-query` tool's part of a tool agent's config, read and checked before any query runs: identifiers
 * (schema, tables) must be plain names, every query text passes the static check of sql-text.ts against the
 * allow-lists, and every parameter is declared with a type. A config that fails is the agent's fault, not the
 * step's: the error is non-retryable.
 */
import type { JsonObject, JsonValue } from '#core';
import { AgentError } from '../agent-error.js';
import { checkSqlText, DEFAULT_ALLOWED_FUNCTIONS } from './sql-text.js';

export const SQL_IDENTIFIER = '^[a-z_][a-z0-9_]{0,62}$';
const IDENTIFIER = new RegExp(SQL_IDENTIFIER);

export const SQL_QUERY_DEFAULTS = { schema: 'kpi_demo', maxRows: 1000, statementTimeoutMs: 5000 } as const;
/** Ceilings a config cannot raise: a tool answer is a step output (stored as jsonb, sent in events). */
export const SQL_QUERY_LIMITS = { maxRows: 10000, statementTimeoutMs: 60000, stringLength: 10000 } as const;

export type SqlParamType = 'string' | 'number' | 'integer' | 'boolean';

export interface SqlParamSpec {
  name: string;
  type: SqlParamType;
  required: boolean;
  default?: string | number | boolean;
  pattern?: RegExp;
  enum?: (string | number | boolean)[];
  maxLength: number;
}

export interface SqlQuerySpec {
  name: string;
  description?: string;
  /** The checked text: relations quoted and schema-qualified. */
  text: string;
  params: SqlParamSpec[];
}

export interface SqlQueryToolConfig {
  schema: string;
  allowedTables: string[];
  maxRows: number;
  statementTimeoutMs: number;
  queries: Map<string, SqlQuerySpec>;
}

const paramSchema: JsonObject = {
  oneOf: [
    { type: 'string', pattern: SQL_IDENTIFIER },
    {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: SQL_IDENTIFIER },
        type: { enum: ['string', 'number', 'integer', 'boolean'] },
        required: { type: 'boolean' },
        default: { type: ['string', 'number', 'boolean'] },
        pattern: { type: 'string', maxLength: 500 },
        enum: { type: 'array', items: { type: ['string', 'number', 'boolean'] }, minItems: 1 },
        maxLength: { type: 'integer', minimum: 1, maximum: SQL_QUERY_LIMITS.stringLength },
      },
    },
  ],
};

/** JSON Schema of a tool agent's config (`agents.config`) for the `sql-query` tool. */
export const SQL_QUERY_CONFIG_SCHEMA: JsonObject = {
  type: 'object',
  required: ['allowedTables', 'queries'],
  properties: {
    tool: { const: 'sql-query' },
    schema: { type: 'string', pattern: SQL_IDENTIFIER, description: 'Schema of the tables (default kpi_demo)' },
    allowedTables: { type: 'array', items: { type: 'string', pattern: SQL_IDENTIFIER }, minItems: 1, uniqueItems: true },
    allowedFunctions: { type: 'array', items: { type: 'string', pattern: SQL_IDENTIFIER }, uniqueItems: true },
    maxRows: { type: 'integer', minimum: 1, maximum: SQL_QUERY_LIMITS.maxRows },
    statementTimeoutMs: { type: 'integer', minimum: 10, maximum: SQL_QUERY_LIMITS.statementTimeoutMs },
    maxConcurrency: { type: 'integer', minimum: 1 },
    queries: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]{0,99}$' },
      additionalProperties: {
        type: 'object',
        required: ['sql'],
        additionalProperties: false,
        properties: {
          sql: { type: 'string', minLength: 1, maxLength: 20000 },
          description: { type: 'string' },
          params: { type: 'array', items: paramSchema },
        },
      },
    },
  },
};

const invalid = (message: string) => new AgentError('INVALID_AGENT_CONFIG', `sql-query config: ${message}`, false);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function identifier(value: unknown, what: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value))
    throw invalid(`${what} must be a lower-case SQL name (${SQL_IDENTIFIER}), got ${JSON.stringify(value)}`);
  return value;
}

function boundedInt(value: unknown, what: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw invalid(`${what} must be an integer from 1 to ${max}`);
  return value;
}

function readParam(raw: unknown, query: string): SqlParamSpec {
  if (typeof raw === 'string')
    return { name: identifier(raw, `query ${query}: parameter name`), type: 'string', required: true, maxLength: 1000 };
  if (!isObject(raw)) throw invalid(`query ${query}: a parameter is a name or { name, type, ... }`);
  const name = identifier(raw.name, `query ${query}: parameter name`);
  const type = raw.type ?? 'string';
  if (!['string', 'number', 'integer', 'boolean'].includes(type as string))
    throw invalid(`query ${query}: parameter ${name} has unknown type ${String(type)}`);
  let pattern: RegExp | undefined;
  if (raw.pattern !== undefined) {
    try {
      pattern = new RegExp(String(raw.pattern), 'u');
    } catch {
      throw invalid(`query ${query}: parameter ${name} has an invalid pattern`);
    }
  }
  const spec: SqlParamSpec = {
    name,
    type: type as SqlParamType,
    required: raw.required !== false && raw.default === undefined,
    maxLength: boundedInt(raw.maxLength, `query ${query}: parameter ${name} maxLength`, 1000, SQL_QUERY_LIMITS.stringLength),
    ...(pattern ? { pattern } : {}),
    ...(Array.isArray(raw.enum) ? { enum: raw.enum as (string | number | boolean)[] } : {}),
  };
  if (raw.default !== undefined) {
    const problem = paramProblem(spec, raw.default as JsonValue);
    if (problem) throw invalid(`query ${query}: default of ${name}: ${problem}`);
    spec.default = raw.default as string | number | boolean;
  }
  return spec;
}

/** Reads the sql-query part of a tool agent's config; throws a non-retryable INVALID_AGENT_CONFIG. */
export function readSqlQueryConfig(config: Record<string, unknown>): SqlQueryToolConfig {
  const schema = identifier(config.schema ?? SQL_QUERY_DEFAULTS.schema, 'schema');
  if (!Array.isArray(config.allowedTables) || config.allowedTables.length === 0)
    throw invalid('allowedTables must list at least one table');
  const allowedTables = config.allowedTables.map((t, i) => identifier(t, `allowedTables[${i}]`));
  const allowedFunctions =
    config.allowedFunctions === undefined
      ? DEFAULT_ALLOWED_FUNCTIONS
      : Array.isArray(config.allowedFunctions)
        ? config.allowedFunctions.map((f, i) => identifier(f, `allowedFunctions[${i}]`))
        : (() => {
            throw invalid('allowedFunctions must be a list of function names');
          })();
  if (!isObject(config.queries) || Object.keys(config.queries).length === 0) throw invalid('queries must declare at least one named query');
  const queries = new Map<string, SqlQuerySpec>();
  for (const [name, raw] of Object.entries(config.queries)) {
    if (!isObject(raw) || typeof raw.sql !== 'string') throw invalid(`query ${name} needs a sql text`);
    if (raw.params !== undefined && !Array.isArray(raw.params))
      throw invalid(`query ${name}: params must be a list (the order gives $1, $2, ...)`);
    const params = ((raw.params as unknown[] | undefined) ?? []).map((p) => readParam(p, name));
    if (new Set(params.map((p) => p.name)).size !== params.length) throw invalid(`query ${name}: parameter names repeat`);
    const checked = checkSqlText(raw.sql, { schema, allowedTables, allowedFunctions, paramCount: params.length });
    if ('problems' in checked) throw invalid(`query ${name}: ${checked.problems.join('; ')}`);
    queries.set(name, {
      name,
      text: checked.text,
      params,
      ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    });
  }
  return {
    schema,
    allowedTables,
    maxRows: boundedInt(config.maxRows, 'maxRows', SQL_QUERY_DEFAULTS.maxRows, SQL_QUERY_LIMITS.maxRows),
    statementTimeoutMs: boundedInt(
      config.statementTimeoutMs,
      'statementTimeoutMs',
      SQL_QUERY_DEFAULTS.statementTimeoutMs,
      SQL_QUERY_LIMITS.statementTimeoutMs,
    ),
    queries,
  };
}

/** Why `value` does not fit the parameter, or null. Values are only ever bound, never spliced: this is about meaning. */
export function paramProblem(spec: SqlParamSpec, value: JsonValue): string | null {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${kind(value)}`;
      if (value.length > spec.maxLength) return `longer than ${spec.maxLength} characters`;
      if (value.includes('\u0000')) return 'contains a NUL character';
      if (spec.pattern && !spec.pattern.test(value)) return `does not match ${spec.pattern.source}`;
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `expected a number, got ${kind(value)}`;
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `expected an integer, got ${kind(value)}`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return `expected a boolean, got ${kind(value)}`;
      break;
  }
  if (spec.enum && !spec.enum.includes(value as string | number | boolean))
    return `must be one of ${spec.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  return null;
}

function kind(value: JsonValue): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
