/**
 * A run and its steps as clients see them: the API's run resource (GET /orchestrations/runs/:id) and the CLI's
 * runs:get / runs:list --json print exactly this, so a script can switch between the two without remapping.
 */
import type { OrchestrationRunEntity, OrchestrationStepEntity } from '#persistence';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function stepView(step: OrchestrationStepEntity) {
  return {
    key: step.stepKey,
    status: step.status,
    type: step.type,
    agent: step.agentSlug,
    dependsOn: step.dependsOn,
    attempt: step.attempt,
    maxAttempts: step.maxAttempts,
    nextAttemptAt: iso(step.nextAttemptAt),
    input: step.input,
    output: step.output,
    error: step.error,
    usage: step.usage ?? null,
    ...(step.type === 'orchestration' || step.childrenTotal > 0
      ? { children: { total: step.childrenTotal, started: step.childrenStarted, finished: step.childrenFinished } }
      : {}),
    ...(step.compensates ? { compensates: step.compensates } : {}),
    startedAt: iso(step.startedAt),
    completedAt: iso(step.completedAt),
  };
}

export function runView(run: OrchestrationRunEntity, steps?: OrchestrationStepEntity[]) {
  return {
    id: run.id,
    definition: run.definitionSlug,
    version: run.definitionVersion,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    priority: run.priority,
    idempotencyKey: run.idempotencyKey,
    parentRunId: run.parentRunId,
    parentStepId: run.parentStepId,
    depth: run.depth,
    compensation: run.compensation,
    budget: run.budget ?? null,
    usage: {
      inputTokens: Number(run.usageInputTokens ?? 0),
      outputTokens: Number(run.usageOutputTokens ?? 0),
      totalTokens: Number(run.usageInputTokens ?? 0) + Number(run.usageOutputTokens ?? 0),
      costUsd: Number(run.usageCostUsd ?? 0),
    },
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    completedAt: iso(run.completedAt),
    ...(steps ? { steps: steps.map(stepView) } : {}),
  };
}
