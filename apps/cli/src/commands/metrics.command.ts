import type { Command } from 'commander';
import { OperationalGaugesRepository } from '#persistence';
import { withDataSource } from '../cli-database.js';
import { cliSettings, out } from '../cli-settings.js';
import { shortDuration } from './queue-status.command.js';

/**
 * Key figures of the deployment, read from the database (the same queries as the scrape-time gauges of
 * GET /metrics): no running server is needed. Per-process figures (HTTP, pools, streams) are only on /metrics.
 */
export function registerMetrics(program: Command): void {
  program
    .command('metrics')
    .description('Key figures: ready queue and its oldest step, runs in flight, pending approvals, webhook backlog and dead letters')
    .option('--json', 'print JSON instead of lines')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { config } = cliSettings(command);
      const figures = await withDataSource(config, async (dataSource) => {
        const repository = new OperationalGaugesRepository(dataSource);
        const [queue, runs, approvals, deliveries] = [await repository.queueDepth(), await repository.runsInFlight(), await repository.pendingApprovals(), await repository.webhookDeliveries()];
        const sum = (key: 'ready' | 'running' | 'retrying') => queue.reduce((n, q) => n + q[key], 0);
        const delivery = (status: string) => deliveries.find((d) => d.status === status)?.n ?? 0;
        return {
          readySteps: sum('ready'),
          runningSteps: sum('running'),
          retryingSteps: sum('retrying'),
          oldestReadySeconds: sum('ready') > 0 ? Math.max(0, ...queue.map((q) => q.oldest_ready_seconds ?? 0)) : null,
          runsInFlight: Object.fromEntries(['pending', 'running', 'awaiting_approval'].map((s) => [s, runs.find((r) => r.status === s)?.n ?? 0])),
          pendingApprovals: approvals.n,
          oldestPendingApprovalSeconds: approvals.oldest_seconds,
          webhookBacklog: delivery('pending') + delivery('delivering'),
          webhookDeadLetters: delivery('dead'),
        };
      });
      if (options.json) {
        out(JSON.stringify(figures, null, 2));
        return;
      }
      const age = (s: number | null) => (s === null ? '-' : shortDuration(s));
      out(`steps ready            ${figures.readySteps} (oldest ${age(figures.oldestReadySeconds)})`);
      out(`steps running          ${figures.runningSteps}`);
      out(`steps retrying         ${figures.retryingSteps}`);
      out(`runs in flight         ${Object.entries(figures.runsInFlight).map(([s, n]) => `${s} ${n}`).join(', ')}`);
      out(`pending approvals      ${figures.pendingApprovals} (oldest ${age(figures.oldestPendingApprovalSeconds)})`);
      out(`webhook backlog        ${figures.webhookBacklog}`);
      out(`webhook dead letters   ${figures.webhookDeadLetters}`);
    });
}
