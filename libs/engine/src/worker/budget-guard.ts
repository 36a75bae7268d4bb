/**
 * Budgets at the claim (issue 8): before a step calls its agent, the run's spending so far is compared with the run's
 * budget and, for an agent with a `budget` in its config, that agent's spending within the run with its limit (or the
 * limit a decision raised for this run). A step that would go past a limit does not call its agent: it fails with the
 * non-retryable BUDGET_EXCEEDED naming the limit, or, with `onExceeded: approval`, pauses at a checkpoint whose
 * `continue` (modifications `{ maxTokens?, maxCostUsd? }`) raises the limit and runs the step.
 */
import type { JsonValue } from '#core';
import type { RunBudget } from '../store/step-claim.repository.js';
import type { StepOutcome } from './step-outcome.js';

export interface Limits {
  maxTokens?: number;
  maxCostUsd?: number;
}

/** A limit a step would go past, kept as the paused step's output (and the checkpoint payload). */
export interface BudgetRequest {
  budgetExceeded: true;
  scope: 'run' | 'agent';
  agent: string | null;
  limit: 'maxTokens' | 'maxCostUsd';
  max: number;
  used: number;
}

export function isBudgetRequest(value: unknown): value is BudgetRequest {
  return value !== null && typeof value === 'object' && (value as { budgetExceeded?: unknown }).budgetExceeded === true;
}

/** The first limit reached (tokens before cost), or null. */
export function breach(limits: Limits | null | undefined, used: { tokens: number; costUsd: number }): Pick<BudgetRequest, 'limit' | 'max' | 'used'> | null {
  if (!limits) return null;
  if (limits.maxTokens !== undefined && used.tokens >= limits.maxTokens) return { limit: 'maxTokens', max: limits.maxTokens, used: used.tokens };
  if (limits.maxCostUsd !== undefined && used.costUsd >= limits.maxCostUsd) return { limit: 'maxCostUsd', max: limits.maxCostUsd, used: round(used.costUsd) };
  return null;
}

/** What the attempt does instead of calling its agent. */
export function budgetOutcome(request: BudgetRequest, onExceeded: 'fail' | 'approval' | undefined): StepOutcome {
  if (onExceeded === 'approval') return { kind: 'budget_exceeded', request };
  return {
    kind: 'failed',
    error: { code: 'BUDGET_EXCEEDED', message: describe(request), retryable: false, details: { ...request } as unknown as JsonValue },
  };
}

export function describe(request: BudgetRequest): string {
  const whose = request.scope === 'run' ? 'the run' : `agent ${request.agent} in this run`;
  return `budget ${request.limit} ${request.max} of ${whose} is reached (${request.used} used)`;
}

/** The agent's limits within the run: what a decision raised for this run, over its config's `budget`. */
export function agentLimits(run: RunBudget | null, slug: string, config: Record<string, unknown> | undefined): (Limits & { onExceeded?: 'fail' | 'approval' }) | null {
  const own = (config?.budget ?? null) as (Limits & { onExceeded?: 'fail' | 'approval' }) | null;
  const raised = run?.agents?.[slug];
  if (!own && !raised) return null;
  return { ...(own ?? {}), ...(raised ?? {}) };
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
