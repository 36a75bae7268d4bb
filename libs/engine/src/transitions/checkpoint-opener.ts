/**
 * Opens checkpoints inside the result transaction: a step whose definition has `approval:` (or a `type:
 * approval` gate) does not complete when its agent answers; it waits in `awaiting_approval` with its output
 * kept, a `human_approvals` row records what is asked (with stored deadlines), and the run pauses.
 */
import { Injectable } from '@nestjs/common';
import { assertRunTransition, renderTemplate, type JsonValue, type StepSpec } from '#core';
import type { NewEvent } from '../store/event-log.repository.js';
import type { Queryable } from '../store/engine-database.js';
import { insertApprovals, setRunStatus, type NewApproval } from '../store/approval.repository.js';
import { stepOutputs, type RunRow } from '../store/step-transition.repository.js';

export interface OpeningCheckpoint {
  run: RunRow;
  stepId: string;
  stepKey: string;
  attempt: number;
  output: JsonValue;
  spec: StepSpec;
  /** Tokens and cost of the attempt that produced the output (LLM agents), shown in checkpoint.requested. */
  usage?: JsonValue;
}

export const ALL_DECISIONS = ['continue', 'retry', 'skip', 'abort'];

@Injectable()
export class CheckpointOpener {
  async open(client: Queryable, checkpoints: OpeningCheckpoint[], events: NewEvent[]): Promise<void> {
    if (checkpoints.length === 0) return;
    const needOutputs = [...new Set(checkpoints.filter((c) => c.spec.approval?.payload !== undefined).map((c) => c.run.id))];
    const outputs = new Map<string, Record<string, { output: JsonValue }>>();
    for (const row of needOutputs.length > 0 ? await stepOutputs(client, needOutputs) : []) {
      const steps = outputs.get(row.run_id) ?? {};
      if (row.status === 'completed' || row.status === 'skipped') steps[row.step_key] = { output: (row.output ?? null) as JsonValue };
      outputs.set(row.run_id, steps);
    }
    const approvals: NewApproval[] = checkpoints.map((c) => {
      const approval = c.spec.approval ?? { prompt: `Approve step ${c.stepKey}?` };
      let payload: JsonValue = c.output;
      if (approval.payload !== undefined) {
        const steps = { ...(outputs.get(c.run.id) ?? {}), [c.stepKey]: { output: c.output } };
        try {
          payload = renderTemplate(approval.payload, { input: (c.run.input ?? null) as JsonValue, steps, run: { id: c.run.id, organizationId: c.run.organization_id } });
        } catch (error) {
          payload = { error: `approval payload template failed: ${(error as Error).message}`, output: c.output };
        }
      }
      return {
        organizationId: c.run.organization_id,
        runId: c.run.id,
        stepId: c.stepId,
        stepKey: c.stepKey,
        attempt: c.attempt,
        prompt: approval.prompt,
        payload,
        decisions: approval.decisions ?? ALL_DECISIONS,
        roles: approval.roles ?? ['approver', 'admin'],
        assignees: approval.assignees ?? [],
        quorum: approval.quorum ?? 1,
        onTimeout: approval.onTimeout ?? 'abort',
        timeoutMs: approval.timeoutMs ?? null,
        escalateAfterMs: approval.escalateAfterMs ?? null,
      };
    });
    const inserted = await insertApprovals(client, approvals);
    const byStep = new Map(inserted.map((r) => [r.step_id, r]));
    const usageOf = new Map(checkpoints.map((c) => [c.stepId, c.usage]));
    const pausedRuns = new Set<string>();
    approvals.forEach((a) => {
      const row = byStep.get(a.stepId);
      events.push({
        runId: a.runId,
        organizationId: a.organizationId,
        type: 'checkpoint.requested',
        stepKey: a.stepKey,
        payload: {
          approvalId: row?.id ?? null,
          prompt: a.prompt,
          payload: a.payload,
          decisions: a.decisions,
          quorum: a.quorum,
          expiresAt: row?.expires_at ? new Date(row.expires_at).toISOString() : null,
          ...(usageOf.get(a.stepId) ? { usage: usageOf.get(a.stepId) as JsonValue } : {}),
        },
      });
      pausedRuns.add(a.runId);
    });
    for (const c of checkpoints) {
      if (!pausedRuns.has(c.run.id) || c.run.status !== 'running') continue;
      assertRunTransition(c.run.status, 'awaiting_approval');
      await setRunStatus(client, c.run.id, 'awaiting_approval');
      c.run.status = 'awaiting_approval';
      events.push({ runId: c.run.id, organizationId: c.run.organization_id, type: 'run.awaiting_approval', payload: {} });
    }
  }
}
