import type { Command } from 'commander';
import { OperationalGaugesRepository } from '#persistence';
import { withDataSource } from '../cli-database.js';
import { cliSettings, out } from '../cli-settings.js';

/** Seconds as a short duration (`42s`, `3m 5s`, `2h 10m`). */
export function shortDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function registerQueueStatus(program: Command): void {
  program
    .command('queue:status')
    .description('Steps ready, running, waiting (at a checkpoint) and retrying, by agent, across organizations; oldest ready step')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { config } = cliSettings(command);
      const { queue, waiting } = await withDataSource(config, async (dataSource) => {
        const repository = new OperationalGaugesRepository(dataSource);
        return { queue: await repository.queueDepth(), waiting: await repository.waitingSteps() };
      });
      const agents = [...new Set([...queue.map((q) => q.agent), ...waiting.map((w) => w.agent)])].sort();
      const rows = agents.map((agent) => {
        const q = queue.find((r) => r.agent === agent);
        return { agent, ready: q?.ready ?? 0, running: q?.running ?? 0, waiting: waiting.find((w) => w.agent === agent)?.n ?? 0, retrying: q?.retrying ?? 0, oldestReadySeconds: q?.oldest_ready_seconds ?? null };
      });
      const oldest = Math.max(0, ...rows.map((r) => r.oldestReadySeconds ?? 0));
      if (options.json) {
        out(JSON.stringify({ agents: rows, oldestReadySeconds: rows.some((r) => r.ready > 0) ? oldest : null }, null, 2));
        return;
      }
      if (rows.length === 0) {
        out('Queue empty: no step is ready, running, waiting or retrying.');
        return;
      }
      out(`${'AGENT'.padEnd(28)} ${'READY'.padStart(7)} ${'RUNNING'.padStart(7)} ${'WAITING'.padStart(7)} ${'RETRYING'.padStart(8)}  OLDEST READY`);
      for (const r of rows)
        out(`${r.agent.padEnd(28)} ${String(r.ready).padStart(7)} ${String(r.running).padStart(7)} ${String(r.waiting).padStart(7)} ${String(r.retrying).padStart(8)}  ${r.oldestReadySeconds === null ? '-' : shortDuration(r.oldestReadySeconds)}`);
      const total = (key: 'ready' | 'running' | 'waiting' | 'retrying') => rows.reduce((sum, r) => sum + r[key], 0);
      out(`${'TOTAL'.padEnd(28)} ${String(total('ready')).padStart(7)} ${String(total('running')).padStart(7)} ${String(total('waiting')).padStart(7)} ${String(total('retrying')).padStart(8)}  ${total('ready') > 0 ? shortDuration(oldest) : '-'}`);
    });
}
