/**
 * What an agent is, as an admin writes it (REST body or YAML file for `agents:apply`), and its checks: the shape
 * (JSON Schema), the type's own config schema (`BaseAgentRunner.configSchema`, when a runner of that type is
 * registered), and the secrets rule. Configs name environment variables (`apiKeyEnv: OPENAI_API_KEY`), never
 * hold secrets: a literal secret-looking value is refused (400), never stored and so never returned.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AGENT_TYPES, jsonPathChild, type AgentType, type JsonObject, type ProblemDetail } from '#core';
import { instancePathToJsonPath } from '#definitions';

export const AGENT_SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,99}$';
export const CAPABILITY_PATTERN = '^[a-z0-9][a-z0-9._-]{0,99}$';

export interface AgentDocument {
  slug: string;
  name: string;
  description?: string | null;
  type: AgentType;
  capabilities?: string[];
  config?: JsonObject;
  functionCode?: string | null;
  status?: 'active' | 'disabled';
}

/** Budget of an agent or a run: the most one run may spend (see docs/agents.md, Budgets). */
export const BUDGET_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    maxTokens: { type: 'integer', minimum: 1 },
    maxCostUsd: { type: 'number', exclusiveMinimum: 0 },
    onExceeded: { enum: ['fail', 'approval'] },
  },
} as const;

export const AGENT_DOCUMENT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['slug', 'name', 'type'],
  properties: {
    slug: { type: 'string', pattern: AGENT_SLUG_PATTERN },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: ['string', 'null'], maxLength: 5000 },
    type: { enum: [...AGENT_TYPES] },
    capabilities: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string', pattern: CAPABILITY_PATTERN } },
    config: {
      type: 'object',
      properties: {
        maxConcurrency: { type: 'integer', minimum: 1, maximum: 10000 },
        budget: BUDGET_JSON_SCHEMA,
      },
    },
    functionCode: { type: ['string', 'null'], maxLength: 200000 },
    status: { enum: ['active', 'disabled'] },
  },
} as const;

const ajv = new Ajv.default({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats.default(ajv);
const validateShape = ajv.compile(AGENT_DOCUMENT_SCHEMA);

function toProblem(error: ErrorObject, base = '$'): ProblemDetail {
  const path = instancePathToJsonPath(error.instancePath).replace(/^\$/, base);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return { path: jsonPathChild(path, String(params.missingProperty)), message: `required field "${String(params.missingProperty)}" is missing`, code: 'schema' };
  if (error.keyword === 'additionalProperties')
    return { path: jsonPathChild(path, String(params.additionalProperty)), message: `unknown field "${String(params.additionalProperty)}"`, code: 'schema' };
  if (error.keyword === 'enum') return { path, message: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`, code: 'schema' };
  return { path, message: error.message ?? `fails ${error.keyword}`, code: 'schema' };
}

/** Config field names that hold credentials; they may only name an environment variable. */
const SECRET_KEY = /(api[-_]?key|secret|token|password|passwd|credentials?|authorization|private[-_]?key)$/i;
/** `OPENAI_API_KEY`, or a template reading one: `Bearer {{ env.N8N_TOKEN }}`. */
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const ENV_REFERENCE = /\{\{\s*env\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}|\$\{[A-Za-z_][A-Za-z0-9_]*\}/;
/** Shapes of well-known credentials, refused wherever they appear (a header value, a URL). */
const CREDENTIAL_SHAPES = [
  /\bsk-[A-Za-z0-9_-]{16,}/, // OpenAI and compatible
  /\bgh[pousr]_[A-Za-z0-9]{20,}/, // GitHub
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{30,}/, // Google API key
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, // a JWT
  /\bbk_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}/, // a Baton API key
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/i,
  /:\/\/[^/\s:@]+:[^/\s@]+@/, // credentials in a URL
];

/** Literal secrets in a config: a credential-named field holding a value, or a value shaped like a credential. */
export function secretProblems(value: unknown, path: string, key = ''): ProblemDetail[] {
  if (typeof value === 'string') {
    const envReference = ENV_REFERENCE.test(value) || /env$/i.test(key) || (SECRET_KEY.test(key) && ENV_NAME.test(value));
    const named = SECRET_KEY.test(key) && value !== '' && !envReference;
    const literal = value.replace(new RegExp(ENV_REFERENCE.source, 'g'), '');
    const shaped = CREDENTIAL_SHAPES.some((re) => re.test(literal));
    if (named || shaped)
      return [
        {
          path,
          message: `looks like a literal secret: configs must not hold secrets; put it in an environment variable and name it (e.g. "${key.replace(/env$/i, '') || 'apiKey'}Env": "MY_SECRET")`,
          code: 'literal_secret',
        },
      ];
    return [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => secretProblems(item, jsonPathChild(path, i), key));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => secretProblems(v, jsonPathChild(path, k), k));
  return [];
}

/**
 * Every problem of an agent document, each with its JSON path (`$.config.url`). `configSchema` is the type's
 * schema (undefined: any object). An invalid type schema is a programming error of the runner and throws.
 */
export function agentDocumentProblems(document: unknown, configSchema: JsonObject | undefined): ProblemDetail[] {
  const problems = validateShape(document) ? [] : (validateShape.errors ?? []).map((e) => toProblem(e));
  const config = (document as { config?: unknown } | null)?.config;
  if (configSchema && config !== null && typeof config === 'object' && !Array.isArray(config)) {
    const validate = typeSchemaValidator(configSchema);
    if (!validate(config)) problems.push(...(validate.errors ?? []).map((e) => toProblem(e, '$.config')));
  }
  problems.push(...secretProblems(config, '$.config'));
  return problems;
}

/** One compiled validator per type schema (a runner's schema is a constant: compiled once per process). */
const typeValidators = new WeakMap<JsonObject, ValidateFunction>();

function typeSchemaValidator(schema: JsonObject): ValidateFunction {
  let validate = typeValidators.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    typeValidators.set(schema, validate);
  }
  return validate;
}
