import type { Command } from 'commander';
import { AgentRegistryService } from '#agents';
import { printAgentDetail } from '../agents/agent-output.js';
import { withAppContext } from '../cli-database.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerAgentsInfo(program: Command): void {
  program
    .command('agents:info')
    .description('One agent: health, heartbeat, breaker state, recent error rate and latency, recent steps')
    .argument('<slug>', 'the agent')
    .option('--json', 'print the agent as JSON (the same fields as GET /agents/:slug)')
    .option('--org <slug>', 'organization of the agent', 'global')
    .action(async (slug: string, options: { json?: boolean; org: string }, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const agent = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app.get(AgentRegistryService, { strict: false }).get(organization.id, slug);
      });
      if (options.json) return out(JSON.stringify(agent, null, 2));
      printAgentDetail(agent);
    });
}
