/**
 * Agent answers into a context's history: when a run of a conversation finishes (result, failure, cancellation) or
 * pauses at a checkpoint (its prompt), that answer is appended as an `agent` message. Recorded right after a
 * blocking A2A SendMessage or a message stream (so the client's next read sees it), and by the conversation job for
 * every other run (returnImmediately, REST runs, clients that went away), so no answer depends on a live client.
 * Each answer moves the run's answer mark to the log position it was read at, and is named by its content (final
 * state, or the set of pending checkpoints): several instances recording it, or a run logging more events while it
 * waits at the same checkpoint, append it once.
 */
import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Message } from '@a2a-js/sdk';
import {
  outputText,
  protocolAgentMessage,
  protocolDataPart,
  protocolTextPart,
  taskOfRun,
  TERMINAL_RUN_STATUSES,
  type PendingApproval,
} from '#a2a';
import type { JsonValue, RunStatus } from '#core';
import { ConversationsService, type UnansweredRun } from '#conversations';
import { ApprovalQueryService } from '#engine';
import { RunsRepository, type OrchestrationRunEntity } from '#persistence';
import { taskViewOf } from '../a2a/a2a-task.repository.js';

/** Run statuses that carry an answer for the conversation. */
export const ANSWERED_RUN_STATUSES: readonly RunStatus[] = [...TERMINAL_RUN_STATUSES, 'awaiting_approval'];
const SWEEP_BATCH = 200;
/** The answer parts of a run in an answered status, in the A2A v1.0 JSON form; empty when there is nothing to say. */
export function answerParts(run: OrchestrationRunEntity, contextId: string, pending: PendingApproval[]): JsonValue[] {
  const view = taskViewOf(run, contextId);
  const task = taskOfRun(view, pending, []);
  let parts;
  if (run.status === 'completed') {
    const summary = outputText(view.output);
    parts = [...(summary === null ? [] : [protocolTextPart(summary)]), protocolDataPart(view.output ?? null)];
  } else if (run.status === 'cancelled') parts = [protocolTextPart('Task canceled')];
  else parts = task.status?.message?.parts ?? [];
  if (parts.length === 0) return [];
  return (Message.toJSON(protocolAgentMessage(parts, run.id, contextId)) as { parts: JsonValue[] }).parts;
}

/** A short stable name for a set of ids (message ids are at most 200 characters). */
function digest(ids: string[]): string {
  return createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 32);
}

@Injectable()
export class ConversationAnswers {
  private readonly logger = new Logger('Conversations');

  constructor(
    private readonly conversations: ConversationsService,
    private readonly runs: RunsRepository,
    private readonly approvals: ApprovalQueryService,
  ) {}

  /** Records the run's current answer now, waiting for its conversation's lock. Never throws: the job retries. */
  async recordRun(organizationId: string, runId: string): Promise<void> {
    try {
      const [run] = await this.conversations.unanswered(ANSWERED_RUN_STATUSES, 1, { organizationId, runId });
      if (run) await this.record(run, true);
    } catch (error) {
      this.logger.warn(`recording the answer of run ${runId} failed (the conversation job retries): ${(error as Error).message}`);
    }
  }

  /** One pass over every unanswered run; conversations locked elsewhere are left for the next pass. */
  async sweep(): Promise<number> {
    let recorded = 0;
    for (const run of await this.conversations.unanswered(ANSWERED_RUN_STATUSES, SWEEP_BATCH))
      if ((await this.record(run, false)) === 'recorded') recorded++;
    return recorded;
  }

  private async record(unanswered: UnansweredRun, wait: boolean): Promise<string> {
    const run = await this.runs.findById(unanswered.organizationId, unanswered.runId);
    if (!run || !ANSWERED_RUN_STATUSES.includes(run.status)) return 'moved';
    const pending =
      run.status === 'awaiting_approval'
        ? (await this.approvals.pendingOfRun(run.organizationId, run.id)).map((a) => ({
            approvalId: a.id,
            stepKey: a.stepKey,
            prompt: a.prompt,
            payload: a.payload,
            allowedDecisions: a.decisions,
          }))
        : [];
    const parts = answerParts(run, unanswered.contextId, pending);
    // A checkpoint decided between the two reads: its prompt is no answer any more; the run's next state will be.
    if (parts.length === 0) return 'moved';
    const final = TERMINAL_RUN_STATUSES.includes(run.status);
    const key = final
      ? `answer:${run.id}:${run.status}`
      : `answer:${run.id}:checkpoints:${digest(pending.map((p) => p.approvalId).sort())}`;
    return this.conversations.recordAnswer(unanswered, run.lastSeq, { key, parts, final }, wait);
  }
}
