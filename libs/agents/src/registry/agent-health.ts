/**
 * An agent's recent behaviour, from its last finished steps: error rate per attempt, latency, and one health
 * score (0..1) that folds in what the agent reported (heartbeat health) and its circuit breaker.
 */
import type { AgentHealth, AgentStepRow, BreakerState } from '#persistence';

export interface AgentStats {
  /** Finished steps looked at (the most recent ones). */
  sampleSize: number;
  /** Failed attempts over attempts of those steps: a step that succeeded on its third attempt counts 2 failures of 3. */
  errorRate: number | null;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
  /** Steps of this agent running now. */
  running: number;
  healthScore: number;
}

export interface RecentStep {
  runId: string;
  stepKey: string;
  status: string;
  attempt: number;
  errorCode: string | null;
  latencyMs: number | null;
  completedAt: string;
}

const HEALTH_FACTOR: Record<AgentHealth, number> = { unknown: 1, healthy: 1, degraded: 0.5, unhealthy: 0 };
const BREAKER_FACTOR: Record<BreakerState, number> = { closed: 1, half_open: 0.5, open: 0 };

export function agentStats(
  rows: AgentStepRow[],
  running: number,
  state: { health: AgentHealth; breaker: BreakerState; disabled: boolean },
): AgentStats {
  let attempts = 0;
  let failures = 0;
  const latencies: number[] = [];
  for (const row of rows) {
    if (row.status !== 'completed' && row.status !== 'failed') continue;
    const tries = Math.max(row.attempt, 1);
    attempts += tries;
    failures += row.status === 'failed' ? tries : tries - 1;
    if (row.started_at) latencies.push(new Date(row.completed_at).getTime() - new Date(row.started_at).getTime());
  }
  latencies.sort((a, b) => a - b);
  const errorRate = attempts > 0 ? failures / attempts : null;
  const score = state.disabled ? 0 : (1 - (errorRate ?? 0)) * HEALTH_FACTOR[state.health] * BREAKER_FACTOR[state.breaker];
  return {
    sampleSize: rows.length,
    errorRate: errorRate === null ? null : round(errorRate),
    avgLatencyMs: latencies.length > 0 ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : null,
    p95LatencyMs: latencies.length > 0 ? latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.95) - 1)] : null,
    running,
    healthScore: round(score),
  };
}

export function recentStep(row: AgentStepRow): RecentStep {
  return {
    runId: row.run_id,
    stepKey: row.step_key,
    status: row.status,
    attempt: row.attempt,
    errorCode: row.error_code,
    latencyMs: row.started_at ? new Date(row.completed_at).getTime() - new Date(row.started_at).getTime() : null,
    completedAt: new Date(row.completed_at).toISOString(),
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
