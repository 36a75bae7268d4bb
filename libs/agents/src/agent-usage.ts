/** Tokens and cost one agent call used (LLM agents), carried as `metadata.usage` of its TaskResponseDto. */
export interface AgentUsage { inputTokens: number; outputTokens: number; totalTokens: number; costUsd: number; model: string | null; provider: string | null; }
