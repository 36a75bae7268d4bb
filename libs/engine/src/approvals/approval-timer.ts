/**
 * Applies approval deadlines on every worker instance: `escalateAfterMs` emits checkpoint.escalated once,
 * `timeoutMs` applies the approval's `onTimeout` decision. Deadlines are stored rows, so a restart loses
 * none: whichever instance looks first after the deadline applies it (the decision transaction re-checks).
 * Timeouts go through OrchestrationRunner like any decision.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { BackgroundLoops, WakeSignal } from '#core';
import { AgentRunnerRegistry } from '#agents';
import { EngineDatabase } from '../store/engine-database.js';
import { appendEvents } from '../store/event-log.repository.js';
import { dueApprovals, lockApproval, markEscalated } from '../store/approval.repository.js';
import { lockRuns } from '../store/step-transition.repository.js';
import { sendDecision } from './decision-request.js';

const MAX_WAIT_MS = 1000;
/** The first look after start, so deadlines that passed while no worker ran are applied soon. */
const FIRST_LOOK_MS = 200;

@Injectable()
export class ApprovalTimer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ApprovalTimer.name);
  private readonly wake = new WakeSignal();
  private readonly lifecycle = new BackgroundLoops([this.wake]);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: EngineDatabase,
    private readonly registry: AgentRunnerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api' || !this.lifecycle.begin()) return;
    this.lifecycle.spawn(() => this.loop());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.lifecycle.stop();
  }

  private async loop(): Promise<void> {
    await this.wake.wait(FIRST_LOOK_MS);
    while (this.lifecycle.running) {
      await this.tick();
      await this.wake.wait(Math.min(MAX_WAIT_MS, this.config.pollIntervalMs));
    }
  }

  /** Applies the deadlines due now (at most a batch). */
  async tick(): Promise<void> {
    try {
      for (const due of await dueApprovals(this.db.pool, 50)) {
        if (!this.lifecycle.running) return;
        if (due.kind === 'escalate') await this.escalate(due.id, due.run_id);
        else await this.expire(due.id, due.organization_id, due.run_id);
      }
    } catch (error) {
      if (this.lifecycle.running) this.logger.warn(`approval deadlines: ${(error as Error).message}`);
    }
  }

  private async escalate(approvalId: string, runId: string): Promise<void> {
    await this.db.tx(async (client) => {
      const run = (await lockRuns(client, [runId])).get(runId);
      const approval = await lockApproval(client, approvalId);
      if (!run || !approval || approval.status !== 'pending' || !(await markEscalated(client, approvalId))) return;
      await appendEvents(client, [
        { runId, organizationId: run.organization_id, type: 'checkpoint.escalated', stepKey: approval.step_key, payload: { approvalId, prompt: approval.prompt, assignees: approval.assignees } },
      ]);
    });
  }

  private async expire(approvalId: string, organizationId: string, runId: string): Promise<void> {
    const actor = { type: 'system' as const, id: null, userId: null, role: null };
    try {
      await sendDecision(this.registry, { organizationId, runId, definition: 'orchestrator', approvalId, timeout: true, actor });
    } catch (error) {
      // Another instance applied it first (409), or the run ended meanwhile: nothing left to do.
      this.logger.debug?.(`timeout of ${approvalId}: ${(error as Error).message}`);
    }
  }
}
