import type { Command } from 'commander';
import { RunControlService, RunQueryService } from '#engine';
import { CLI_ACTOR, withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';
import { parseRunId } from '../runs/run-arguments.js';

export function registerRunsCancel(program: Command): void {
  program
    .command('runs:cancel')
    .description('Cancel a run: its pending steps at once, running steps through their AbortSignal (audited as the system actor)')
    .argument('<id>', 'run id')
    .option('--reason <text>', 'why, kept in the run error, the run.cancelled event and the audit log')
    .option('--org <slug>', 'organization of the run', 'global')
    .action(async (id: string, options: { reason?: string; org: string }, command: Command) => {
      const runId = parseRunId(id);
      const { config, logLevel } = cliSettings(command);
      const steps = await withEngineContext(config, logLevel, {}, async (app) => {
        const organization = await findOrganization(app, options.org);
        await app.get(RunControlService, { strict: false }).cancel(organization.id, runId, CLI_ACTOR, options.reason);
        return (await app.get(RunQueryService, { strict: false }).get(organization.id, runId)).steps;
      });
      const cancelled = steps.filter((s) => s.status === 'cancelled').length;
      out(`Cancelled run ${runId} (${cancelled} of ${steps.length} step(s) cancelled).`);
    });
}
