/**
 * JSON Schema (draft-07) of the definition format, DESIGN.md section 4 and `DefinitionSpec` of #core. It
 * checks shape only; what needs the whole document or the database (step references, cycles, agents,
 * sub-orchestrations, templates) is checked by definition-checks.ts, so every problem is reported at once.
 * Unknown fields are errors at every level a definition author writes by hand, so a typo never passes
 * silently (`dependson:` would otherwise be ignored and the step would run first).
 */
import { ROLES } from '#core';

export const DEFINITION_SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,99}$';
export const STEP_KEY_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]{0,99}$';
export const STEP_TYPES = ['agent', 'orchestration', 'approval', 'group'] as const;
export const GROUP_STRATEGIES = ['round-robin', 'priority', 'llm'] as const;
/** Bounds of a group step (issue 16: 2-10 participants); maxTurns keeps a transcript readable in one output. */
export const GROUP_MIN_PARTICIPANTS = 2;
export const GROUP_MAX_PARTICIPANTS = 10;
export const GROUP_MAX_TURNS = 100;
export const APPROVAL_DECISIONS = ['continue', 'retry', 'skip', 'abort'] as const;
export const APPROVAL_TIMEOUT_ACTIONS = ['abort', 'continue', 'skip'] as const;

/** Largest duration accepted anywhere (int4 milliseconds, about 24.8 days). */
const MAX_MS = 2_147_483_647;

const durationMs = { type: 'integer', minimum: 1, maximum: MAX_MS };
const agentName = { type: 'string', minLength: 1, maxLength: 100 };
/** What an agent can do (`agents.capabilities`); a step may name one instead of an agent. */
export const STEP_CAPABILITY_PATTERN = '^[a-z0-9][a-z0-9._-]{0,99}$';

export const DEFINITION_JSON_SCHEMA = {
  $id: 'https://baton.dev/schemas/orchestration-definition.json',
  title: 'Orchestration definition',
  type: 'object',
  additionalProperties: false,
  required: ['slug', 'name', 'steps'],
  properties: {
    slug: { type: 'string', pattern: DEFINITION_SLUG_PATTERN },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 5000 },
    input: { type: 'object', description: 'JSON Schema of the run input' },
    output: { description: 'Run output mapping: any JSON with templates over step outputs' },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: { retry: { $ref: '#/definitions/retry' }, timeoutMs: durationMs },
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 1000 },
    compensate: { type: 'boolean' },
    budget: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description: 'What each run may spend on LLM calls (tokens, USD); onExceeded: fail the step (default) or pause at a checkpoint',
      properties: {
        maxTokens: { type: 'integer', minimum: 1 },
        maxCostUsd: { type: 'number', exclusiveMinimum: 0 },
        onExceeded: { enum: ['fail', 'approval'] },
      },
    },
    steps: { type: 'array', minItems: 1, maxItems: 500, items: { $ref: '#/definitions/step' } },
  },
  definitions: {
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
        backoff: { enum: ['exponential', 'fixed'] },
        initialDelayMs: { type: 'integer', minimum: 0, maximum: MAX_MS },
        maxDelayMs: { type: 'integer', minimum: 0, maximum: MAX_MS },
        jitter: { type: 'boolean' },
        nonRetryable: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
      },
    },
    approval: {
      type: 'object',
      additionalProperties: false,
      required: ['prompt'],
      properties: {
        prompt: { type: 'string', minLength: 1, maxLength: 5000 },
        timeoutMs: durationMs,
        onTimeout: { enum: [...APPROVAL_TIMEOUT_ACTIONS] },
        payload: { description: 'What the approver sees: any JSON with templates' },
        decisions: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...APPROVAL_DECISIONS] } },
        roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...ROLES] } },
        assignees: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 320 } },
        quorum: { type: 'integer', minimum: 1, maximum: 100 },
        escalateAfterMs: durationMs,
        modificationsSchema: { type: 'object', description: 'JSON Schema the modifications of a decision must match' },
      },
    },
    rollback: {
      type: 'object',
      additionalProperties: false,
      required: ['agent'],
      properties: {
        agent: agentName,
        input: { description: 'Input of the compensating call: any JSON with templates' },
        timeoutMs: durationMs,
        retry: { $ref: '#/definitions/retry' },
      },
    },
    participant: {
      description: 'An agent slug, or { agent | capability, name?, priority? }',
      anyOf: [
        agentName,
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            agent: agentName,
            capability: { type: 'string', pattern: STEP_CAPABILITY_PATTERN },
            name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$' },
            priority: { type: 'integer', minimum: -1000, maximum: 1000 },
          },
        },
      ],
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['key', 'ttlMs'],
      description: 'Reuse the output of an earlier call of the same agent with the same rendered key, for ttlMs',
      properties: {
        key: { type: 'string', minLength: 1, maxLength: 2000, description: 'A template, e.g. "{{ input.quarter }}"' },
        ttlMs: durationMs,
      },
    },
    step: {
      type: 'object',
      additionalProperties: false,
      required: ['key'],
      properties: {
        key: { type: 'string', pattern: STEP_KEY_PATTERN },
        type: { enum: [...STEP_TYPES], default: 'agent' },
        agent: agentName,
        orchestration: { type: 'string', pattern: DEFINITION_SLUG_PATTERN },
        version: { type: 'integer', minimum: 1, description: 'Version of the child definition (absent: its latest active one)' },
        forEach: { type: 'string', minLength: 1 },
        concurrency: { type: 'integer', minimum: 1, maximum: 1000, description: 'Most forEach children in flight at once' },
        failFast: { type: 'boolean', description: 'false: collect each item\'s result or error instead of failing on the first' },
        dependsOn: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1 } },
        input: { description: 'Step input: any JSON with templates' },
        approval: { $ref: '#/definitions/approval' },
        retry: { $ref: '#/definitions/retry' },
        timeoutMs: durationMs,
        reversible: { type: 'boolean' },
        rollback: { $ref: '#/definitions/rollback' },
        fallbackAgents: { type: 'array', uniqueItems: true, items: agentName },
        capability: { type: 'string', pattern: STEP_CAPABILITY_PATTERN },
        fallback: { enum: ['capability'] },
        participants: {
          type: 'array',
          minItems: GROUP_MIN_PARTICIPANTS,
          maxItems: GROUP_MAX_PARTICIPANTS,
          items: { $ref: '#/definitions/participant' },
          description: 'type group: the speakers (agents or capabilities)',
        },
        strategy: { enum: [...GROUP_STRATEGIES], description: 'type group: who speaks next (default round-robin)' },
        selector: {
          type: 'object',
          additionalProperties: false,
          required: ['agent'],
          description: 'type group, strategy llm: the agent naming the next speaker; round-robin when it fails or takes longer than timeoutMs',
          properties: { agent: agentName, timeoutMs: durationMs },
        },
        maxTurns: { type: 'integer', minimum: 1, maximum: GROUP_MAX_TURNS, description: 'type group: most turns (default 10)' },
        maxConsecutiveTurns: {
          type: 'integer',
          minimum: 1,
          maximum: GROUP_MAX_TURNS,
          description: 'type group: turns in a row one speaker may take before it sits out one (default 3)',
        },
        termination: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            condition: { type: 'string', minLength: 1, maxLength: 2000, description: 'A template over group.transcript / group.last / group.turn; truthy ends the group' },
            stopWord: { type: 'string', minLength: 1, maxLength: 100, description: 'A turn whose text contains this word ends the group' },
          },
        },
        cache: { $ref: '#/definitions/cache' },
      },
    },
  },
} as const;
