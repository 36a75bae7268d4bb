export interface AgentUsage { inputTokens: number; outputTokens: number; totalTokens: number; costUsd: number; model: string | null; provider: string | null; }
