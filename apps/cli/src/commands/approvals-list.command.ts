import type { Command } from 'commander';
import { ApprovalQueryService } from '#engine';
import { CliError, ExitCode } from '../cli-errors.js';
import { withEngineContext } from '../cli-engine.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';
import { parsePositiveInt } from '../runs/run-arguments.js';

const STATUSES = ['pending', 'resolved', 'expired'] as const;

export function registerApprovalsList(program: Command): void {
  program
    .command('approvals:list')
    .description('List approvals, newest first (pending by default)')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`, 'pending')
    .option('--definition <slug>', 'only approvals of runs of this definition')
    .option('--run <id>', 'only approvals of this run')
    .option('--limit <n>', 'how many', '20')
    .option('--org <slug>', 'organization', 'global')
    .action(async (options: { status: string; definition?: string; run?: string; limit: string; org: string }, command: Command) => {
      if (!(STATUSES as readonly string[]).includes(options.status)) throw new CliError(`--status must be one of ${STATUSES.join(', ')}`, ExitCode.Usage);
      const limit = parsePositiveInt(options.limit, '--limit');
      const { config, logLevel } = cliSettings(command);
      const page = await withEngineContext(config, logLevel, {}, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app
          .get(ApprovalQueryService, { strict: false })
          .list(organization.id, { status: options.status as (typeof STATUSES)[number], definition: options.definition, runId: options.run }, { limit, offset: 0 });
      });
      if (page.items.length === 0) {
        out(`No ${options.status} approvals.`);
        return;
      }
      for (const a of page.items) {
        const when = a.expiresAt ? ` expires ${a.expiresAt}` : '';
        out(`${a.id}  ${a.status.padEnd(8)} ${a.definition}/${a.stepKey}  "${a.prompt}"${a.decision ? `  -> ${a.decision}` : ''}${when}`);
      }
      out(`${page.items.length} of ${page.total}. Decide with: npm run cli -- approvals:decide <id> continue|retry|skip|abort`);
    });
}
