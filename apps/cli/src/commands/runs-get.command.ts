import type { Command } from 'commander';
import { RunQueryService, runView } from '#engine';
import { withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';
import { parseRunId } from '../runs/run-arguments.js';

export function registerRunsGet(program: Command): void {
  program
    .command('runs:get')
    .description('Print a run with its steps as JSON (the same fields as GET /orchestrations/runs/:id)')
    .argument('<id>', 'run id')
    .option('--org <slug>', 'organization of the run', 'global')
    .action(async (id: string, options: { org: string }, command: Command) => {
      const runId = parseRunId(id);
      const { config, logLevel } = cliSettings(command);
      const { run, steps } = await withEngineContext(config, logLevel, {}, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app.get(RunQueryService, { strict: false }).get(organization.id, runId);
      });
      out(JSON.stringify(runView(run, steps), null, 2));
    });
}
