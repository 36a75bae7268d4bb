/**
 * The `api` agent type: one HTTP call described by `agents.config` (method, URL template, headers, body template,
 * expected statuses, response mapping, timeout, retryable statuses), sent through outboundFetch so it follows the
 * outbound address policy (BATON_AGENT_ALLOW_PRIVATE_NETWORKS). Secrets come from the environment by name
 * (`{{ secrets.NAME }}`, NAME listed in `secrets`) and are redacted from everything the step reports.
 *
 * Dry run: with `baseUrlEnv` naming an unset variable (the seeded marketing-swarm's N8N_BASE_URL), or `dryRun: true`,
 * nothing is sent; the step completes with `{ dryRun: true, reason, request }` describing the request it would
 * send (secrets shown as `[secret NAME]`), so seeded flows run offline.
 */
import { Injectable } from '@nestjs/common';
import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { renderTemplate, TemplateError, type JsonObject, type JsonValue, type TemplateContext } from '#core';
import { randomUUID } from 'node:crypto';
import { AgentError } from '../agent-error.js';
import type { AgentExecutionContext } from '../base-agent-runner.js';
import { RegisteredAgentRunner } from '../registered-agent-runner.js';
import { envSecret, redactSecrets } from '../outbound/env-secrets.js';
import { defaultRetryableStatus, httpStatusError, transportError } from '../outbound/http-failure.js';
import { outboundFetch } from '../outbound/outbound-http.js';
import { readJsonPointer } from './json-pointer.js';
import { REQUEST_TEMPLATE_ERROR, SecretTemplates } from './request-template.js';

export interface ApiAgentConfig {
  method?: string;
  /** Absolute URL template, or, with baseUrlEnv, a path template appended to that variable's value. */
  url: string;
  baseUrlEnv?: string;
  headers?: Record<string, string>;
  /** Environment variables `{{ secrets.NAME }}` may read. */
  secrets?: string[];
  /** Body template: a string is sent as it renders, anything else as JSON. Default: the step input (JSON). */
  body?: JsonValue;
  expectedStatuses?: number[];
  retryableStatuses?: number[];
  response?: { pointer?: string; template?: JsonValue };
  timeoutMs?: number;
  maxResponseBytes?: number;
  dryRun?: boolean;
}

export const API_UNEXPECTED_RESPONSE = 'API_UNEXPECTED_RESPONSE';
export const DEFAULT_API_TIMEOUT_MS = 30_000;
const BODILESS = new Set(['GET', 'HEAD']);
const ENV_NAME = { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' };
const STATUSES = { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, uniqueItems: true };

export const API_CONFIG_SCHEMA: JsonObject = {
  type: 'object',
  required: ['url'],
  properties: {
    method: { enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] },
    url: { type: 'string', minLength: 1, maxLength: 4000 },
    baseUrlEnv: ENV_NAME,
    headers: { type: 'object', additionalProperties: { type: 'string', maxLength: 8000 } },
    secrets: { type: 'array', items: ENV_NAME, uniqueItems: true },
    body: {},
    expectedStatuses: STATUSES,
    retryableStatuses: STATUSES,
    response: {
      type: 'object',
      properties: { pointer: { type: 'string', pattern: '^(/.*)?$' }, template: {} },
      additionalProperties: false,
    },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 3600000 },
    maxResponseBytes: { type: 'integer', minimum: 1, maximum: 104857600 },
    dryRun: { type: 'boolean' },
  },
};

@Injectable()
export class ApiAgentRunner extends RegisteredAgentRunner {
  readonly type = 'api' as const;
  override readonly configSchema = API_CONFIG_SCHEMA;

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const config = context.config as unknown as ApiAgentConfig;
    if (typeof config.url !== 'string' || config.url === '') throw new AgentError('AGENT_CONFIG', 'an api agent needs config.url', false);
    const input = messageData(request.message);
    const runId = typeof request.metadata?.runId === 'string' ? request.metadata.runId : undefined;
    const templates: TemplateContext = { input, steps: {}, run: { id: runId, organizationId: context.organizationId } };
    const secrets = new SecretTemplates(config.secrets ?? []);
    const method = (config.method ?? 'POST').toUpperCase();
    const id = request.taskId ?? randomUUID();
    const done = (output: JsonValue) => completedTask(id, request.contextId ?? id, output);

    const base = config.baseUrlEnv ? envSecret(config.baseUrlEnv) : '';
    if (config.dryRun || base === undefined) {
      const shownBase = config.baseUrlEnv ? `\${${config.baseUrlEnv}}` : '';
      return done({
        dryRun: true,
        reason: config.dryRun ? 'dryRun is set in the agent config' : `${config.baseUrlEnv} is not set: nothing was sent`,
        request: {
          method,
          url: shownBase + String(secrets.renderShown(config.url, templates, '$.config.url', true)),
          headers: secrets.renderShown(config.headers ?? {}, templates, '$.config.headers'),
          ...(BODILESS.has(method) ? {} : { body: secrets.renderShown(config.body ?? '{{ input }}', templates, '$.config.body') }),
        },
      });
    }

    const url = String(base) + String(secrets.render(config.url, templates, '$.config.url', true));
    const headers = secrets.render(config.headers ?? {}, templates, '$.config.headers') as Record<string, string>;
    let body: string | undefined;
    if (!BODILESS.has(method)) {
      const rendered = secrets.render(config.body ?? '{{ input }}', templates, '$.config.body');
      body = typeof rendered === 'string' ? rendered : JSON.stringify(rendered);
      if (typeof rendered !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['content-type'] = 'application/json';
    }
    const hidden = [...secrets.used.values()];
    const redact = (text: string) => redactSecrets(text, hidden);

    let answer;
    try {
      answer = await outboundFetch(
        url,
        {
          method,
          headers,
          body,
          signal: context.signal,
          timeoutMs: config.timeoutMs ?? DEFAULT_API_TIMEOUT_MS,
          maxResponseBytes: config.maxResponseBytes,
        },
        { allowPrivateNetworks: this.appConfig.agentAllowPrivateNetworks },
      );
    } catch (error) {
      const failure = transportError(`${method} ${redact(url)}`, error);
      throw new AgentError(failure.code, redact(failure.message), failure.retryable, failure.retryAfterMs);
    }
    const expected = config.expectedStatuses;
    const ok = expected ? expected.includes(answer.status) : answer.status >= 200 && answer.status < 300;
    if (!ok) {
      const retryable = config.retryableStatuses ? (s: number) => config.retryableStatuses!.includes(s) : defaultRetryableStatus;
      throw httpStatusError(
        `${method} ${redact(new URL(url).origin + new URL(url).pathname)}`,
        answer.status,
        answer.headers,
        redact(answer.body),
        retryable,
      );
    }
    const text = redact(answer.body);
    const parsed = parseBody(text, answer.headers['content-type']);
    return done(mapResponse(config.response, { status: answer.status, headers: answer.headers, body: parsed }));
  }
}

function parseBody(text: string, contentType: string | undefined): JsonValue {
  if (text === '') return null;
  const json = contentType?.includes('json') || /^\s*[[{]/.test(text);
  if (!json) return text;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** Default output `{ status, body }`; `pointer` picks from the body; `template` renders with `input` = `{ status, headers, body }`. */
function mapResponse(
  mapping: ApiAgentConfig['response'],
  response: { status: number; headers: Record<string, string>; body: JsonValue },
): JsonValue {
  if (mapping?.pointer !== undefined) {
    const picked = readJsonPointer(response.body, mapping.pointer);
    if (picked === undefined) throw new AgentError(API_UNEXPECTED_RESPONSE, `the answer has nothing at ${mapping.pointer}`, false);
    return picked;
  }
  if (mapping?.template !== undefined) {
    try {
      return renderTemplate(mapping.template, { input: response, steps: {} }, '$.config.response.template');
    } catch (error) {
      if (error instanceof TemplateError) throw new AgentError(REQUEST_TEMPLATE_ERROR, `${error.path}: ${error.message}`, false);
      throw error;
    }
  }
  return { status: response.status, body: response.body };
}
