/**
 * The agent card of an orchestration definition, built in the SDK's in-memory form and serialized with its codec
 * (`AgentCard.toJSON`): the protocol's JSON form, never the SDK's internal `$case` form (the SDK's own card handler
 * writes the latter; see docs/a2a.md).
 */
import { AgentCard, type AgentSkill } from '@a2a-js/sdk';
import type { JsonValue } from '#core';
import type { OrchestrationDefinitionEntity } from '#persistence';

export const BEARER_SCHEME = 'bearer';

export interface CardOptions {
  /** Absolute URL of the JSON-RPC endpoint of this agent. */
  url: string;
  /** Absolute base URL of the API (the provider's URL). */
  baseUrl: string;
  /** Whether a text-only message is accepted (it becomes `{ "text": ... }`). */
  acceptsText: boolean;
  pushNotifications: boolean;
}

function skillOf(definition: OrchestrationDefinitionEntity, options: CardOptions): AgentSkill {
  const schema = (definition.spec.input ?? null) as JsonValue;
  const form = options.acceptsText
    ? 'Send the input as a data part (application/json); a text-only message is taken as the input {"text": <the text>}.'
    : 'Send the input as a data part (application/json); a text-only message is refused, the input schema needs more than {"text"}.';
  return {
    id: definition.slug,
    name: definition.name,
    description: `${definition.spec.description ?? `Runs the Baton orchestration ${definition.slug}`}. ${form} Input JSON Schema: ${JSON.stringify(schema ?? {})}`,
    tags: ['orchestration', 'baton'],
    examples: [],
    inputModes: options.acceptsText ? ['application/json', 'text/plain'] : ['application/json'],
    outputModes: ['application/json'],
    securityRequirements: [],
  };
}

export function agentCardOf(definition: OrchestrationDefinitionEntity, options: CardOptions): AgentCard {
  const jsonRpc = (protocolVersion: string) => ({ url: options.url, protocolBinding: 'JSONRPC', tenant: '', protocolVersion });
  return {
    name: definition.name,
    description: definition.spec.description ?? `Baton orchestration ${definition.slug} (version ${definition.version})`,
    supportedInterfaces: [jsonRpc('1.0'), jsonRpc('0.3')],
    provider: { organization: 'Baton', url: options.baseUrl },
    version: String(definition.version),
    documentationUrl: `${options.baseUrl}/docs`,
    capabilities: { streaming: true, pushNotifications: options.pushNotifications, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      [BEARER_SCHEME]: {
        scheme: {
          $case: 'httpAuthSecurityScheme',
          value: {
            scheme: 'Bearer',
            bearerFormat: 'JWT (POST /auth/login) or a Baton API key (bk_...)',
            description: 'Bearer token of the organization',
          },
        },
      },
    },
    securityRequirements: [{ schemes: { [BEARER_SCHEME]: { list: [] } } }],
    defaultInputModes: options.acceptsText ? ['application/json', 'text/plain'] : ['application/json'],
    defaultOutputModes: ['application/json'],
    skills: [skillOf(definition, options)],
    signatures: [],
  };
}

/** The protocol JSON form of the card. */
export function agentCardJson(card: AgentCard): unknown {
  return AgentCard.toJSON(card);
}
