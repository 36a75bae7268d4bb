/**
 * Built-in tool agents available in every organization without a row in `agents` (the engine's own
 * runners; used by tests, benches and examples). A stored agent with the same slug takes precedence.
 */
export const BUILTIN_AGENT_SLUGS = ['echo', 'sleep', 'flaky', 'fail'] as const;
export type BuiltinAgentSlug = (typeof BUILTIN_AGENT_SLUGS)[number];

export function isBuiltinAgent(slug: string): slug is BuiltinAgentSlug {
  return (BUILTIN_AGENT_SLUGS as readonly string[]).includes(slug);
}
