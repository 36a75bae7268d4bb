import { Option, type Command } from 'commander';
import { AgentRegistryService } from '#agents';
import { AGENT_TYPES, type AgentType } from '#core';
import { AGENT_HEADER, agentRow, printTable } from '../agents/agent-output.js';
import { withAppContext } from '../cli-database.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerAgentsList(program: Command): void {
  program
    .command('agents:list')
    .description('List the agents of the organization (stored ones, then the built-ins), with health and breaker state')
    .option('--capability <name>', 'only agents with this capability')
    .addOption(new Option('--type <type>', 'only agents of this type').choices(AGENT_TYPES))
    .option('--json', 'print the list as JSON (the same fields as GET /agents)')
    .option('--org <slug>', 'organization whose agents to list', 'global')
    .action(async (options: { capability?: string; type?: AgentType; json?: boolean; org: string }, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const agents = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app.get(AgentRegistryService, { strict: false }).list(organization.id, { capability: options.capability, type: options.type });
      });
      if (options.json) return out(JSON.stringify({ items: agents }, null, 2));
      if (agents.length === 0) return out('No agents match.');
      printTable(AGENT_HEADER, agents.map(agentRow));
    });
}
