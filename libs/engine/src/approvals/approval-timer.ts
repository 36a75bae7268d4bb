/**
 * Applies approval deadlines on every worker instance: `escalateAfterMs` emits checkpoint.escalated once,
 * `timeoutMs` applies the approval's `onTimeout` decision. Deadlines are stored rows, so a restart loses
 * none: whichever instance looks first after the deadline applies it (the decision transaction re-checks).
 * Timeouts go through OrchestrationRunner like any decision.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { dataPart, userMessage } from '#a2a';
import { APP_CONFIG, type AppConfig } from '#config';
import { AgentRunnerRegistry } from '#agents';
import { EngineDatabase } from '../store/engine-database.js';
import { appendEvents } from '../store/event-log.repository.js';
import { dueApprovals, lockApproval, markEscalated } from '../store/approval.repository.js';
import { lockRuns } from '../store/step-transition.repository.js';

const MAX_WAIT_MS = 1000;

@Injectable()
export class ApprovalTimer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ApprovalTimer.name);
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: EngineDatabase,
    private readonly registry: AgentRunnerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.schedule(200);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    try {
      for (const due of await dueApprovals(this.db.pool, 50)) {
        if (this.stopped) return;
        if (due.kind === 'escalate') await this.escalate(due.id, due.run_id);
        else await this.expire(due.id, due.organization_id, due.run_id);
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn(`approval deadlines: ${(error as Error).message}`);
    } finally {
      this.schedule(Math.min(MAX_WAIT_MS, this.config.pollIntervalMs));
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
    const runner = this.registry.forType('orchestrator');
    try {
      await runner.execute(
        { taskId: runId, contextId: runId, message: userMessage([dataPart({ approvalId, timeout: true })], runId, runId) },
        { organizationId, agentSlug: 'orchestrator', config: {}, attempt: 1, signal: new AbortController().signal, onProgress: () => undefined, actor: { type: 'system', id: null, userId: null, role: null } },
      );
    } catch (error) {
      // Another instance applied it first (409), or the run ended meanwhile: nothing left to do.
      this.logger.debug?.(`timeout of ${approvalId}: ${(error as Error).message}`);
    }
  }
}
