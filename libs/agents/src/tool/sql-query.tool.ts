/**
 * The `sql-query` built-in tool: runs one of the named queries of the agent's config with the step input's
 * parameters. The input chooses a query by name and gives values; it never contributes SQL: values are bound
 * parameters, the text comes from the checked config, and the row limit is a bound parameter too.
 */
import type { JsonObject, JsonValue } from '#core';
import type { ReadOnlyQueryRepository } from '#persistence';
import { AgentError, TIMEOUT_ERROR } from '../agent-error.js';
import { paramProblem, readSqlQueryConfig, type SqlQuerySpec } from './sql-query.config.js';

export interface SqlQueryOutput extends JsonObject {
  query: string;
  rows: JsonObject[];
  rowCount: number;
  /** True when the query had more rows than the limit and only the first `limit` are returned. */
  truncated: boolean;
  limit: number;
  columns: string[];
}

/** PostgreSQL type oids whose text form is a number JSON can hold: int8, numeric. */
const NUMERIC_TYPES = new Set([20, 1700]);

const badInput = (message: string) => new AgentError('INVALID_INPUT', message, false);

function isObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The bound values of `spec` from the input's params; refuses unknown names, missing values and wrong types. */
export function bindValues(spec: SqlQuerySpec, params: JsonValue | undefined): (string | number | boolean)[] {
  if (params !== undefined && !isObject(params)) throw badInput(`params of query ${spec.name} must be an object`);
  const given = params ?? {};
  const declared = new Set(spec.params.map((p) => p.name));
  const unknown = Object.keys(given).filter((k) => !declared.has(k));
  if (unknown.length > 0)
    throw badInput(`query ${spec.name} has no parameter ${unknown.join(', ')} (declared: ${[...declared].join(', ') || 'none'})`);
  return spec.params.map((p) => {
    const value = given[p.name] ?? p.default;
    if (value === undefined || value === null) {
      if (p.required) throw badInput(`query ${spec.name}: parameter ${p.name} is required`);
      return null as unknown as string;
    }
    const problem = paramProblem(p, value);
    if (problem) throw badInput(`query ${spec.name}: parameter ${p.name} ${problem}`);
    return value as string | number | boolean;
  });
}

function jsonRow(row: Record<string, unknown>, numeric: Set<string>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(row)) {
    if (numeric.has(key) && typeof value === 'string') {
      const n = Number(value);
      out[key] = Number.isFinite(n) && (Number.isSafeInteger(n) || !Number.isInteger(n)) ? n : value;
    } else if (value instanceof Date) out[key] = value.toISOString();
    else if (Buffer.isBuffer(value)) out[key] = value.toString('base64');
    else out[key] = (value ?? null) as JsonValue;
  }
  return out;
}

/** Maps a PostgreSQL error (SQLSTATE in `code`) to an agent error: timeouts and lost connections are worth a retry. */
export function sqlError(error: unknown, query: string, timeoutMs: number): AgentError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === '57014') return new AgentError(TIMEOUT_ERROR, `query ${query} exceeded its statement timeout of ${timeoutMs} ms`, true);
  if (code === '55P03') return new AgentError(TIMEOUT_ERROR, `query ${query} waited too long for a lock`, true);
  if (code === '42501') return new AgentError('SQL_PERMISSION_DENIED', `query ${query} was refused: ${message}`, false);
  if (code === '25006')
    return new AgentError('SQL_READ_ONLY', `query ${query} tried to write in a read-only transaction: ${message}`, false);
  if (typeof code === 'string' && /^(08|53|57P)/.test(code))
    return new AgentError('SQL_UNAVAILABLE', `database unavailable: ${message}`, true);
  if (typeof code === 'string' && code.length === 5)
    return new AgentError('SQL_ERROR', `query ${query} failed (${code}): ${message}`, false);
  return new AgentError('SQL_UNAVAILABLE', `query ${query} failed: ${message}`, true);
}

export class SqlQueryTool {
  constructor(private readonly queries: ReadOnlyQueryRepository) {}

  async run(config: Record<string, unknown>, input: JsonValue): Promise<SqlQueryOutput> {
    const tool = readSqlQueryConfig(config);
    if (!isObject(input) || typeof input.query !== 'string')
      throw badInput(`input must be { query, params? } with query one of ${[...tool.queries.keys()].join(', ')}`);
    const spec = tool.queries.get(input.query);
    if (!spec)
      throw badInput(`unknown query ${JSON.stringify(input.query).slice(0, 100)} (declared: ${[...tool.queries.keys()].join(', ')})`);
    const limit = input.limit ?? tool.maxRows;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > tool.maxRows)
      throw badInput(`limit must be an integer from 1 to ${tool.maxRows}`);
    const values = bindValues(spec, input.params);
    // The checked text as a subquery: the limit applies whatever the text says, and a data-modifying WITH
    // (were one to pass the check) is refused by PostgreSQL below the top level.
    const text = `SELECT * FROM (${spec.text}) AS baton_query LIMIT $${values.length + 1}`;
    let result;
    try {
      result = await this.queries.run({
        text,
        values: [...values, limit + 1],
        schema: tool.schema,
        statementTimeoutMs: tool.statementTimeoutMs,
      });
    } catch (error) {
      throw sqlError(error, spec.name, tool.statementTimeoutMs);
    }
    const numeric = new Set(result.columns.filter((c) => NUMERIC_TYPES.has(c.typeId)).map((c) => c.name));
    const rows = result.rows.slice(0, limit).map((r) => jsonRow(r, numeric));
    return {
      query: spec.name,
      rows,
      rowCount: rows.length,
      truncated: result.rows.length > limit,
      limit,
      columns: result.columns.map((c) => c.name),
    };
  }
}
