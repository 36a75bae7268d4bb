import type { Command } from 'commander';
import { AgentRegistryService } from '#agents';
import { printTable } from '../agents/agent-output.js';
import { withAppContext } from '../cli-database.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';

const ORDER = { open: 0, half_open: 1, closed: 2 } as const;

export function registerBreakersStatus(program: Command): void {
  program
    .command('breakers:status')
    .description("Circuit breaker of every stored agent (open ones first), as every instance sees it (it is kept in the database)")
    .option('--json', 'print the breakers as JSON')
    .option('--org <slug>', 'organization whose agents to show', 'global')
    .action(async (options: { json?: boolean; org: string }, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const agents = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app.get(AgentRegistryService, { strict: false }).list(organization.id);
      });
      const breakers = agents
        .filter((a) => !a.builtin)
        .sort((a, b) => ORDER[a.breaker.state] - ORDER[b.breaker.state] || a.slug.localeCompare(b.slug))
        .map((a) => ({ slug: a.slug, state: a.breaker.state, changedAt: a.breaker.changedAt }));
      if (options.json) return out(JSON.stringify({ items: breakers }, null, 2));
      if (breakers.length === 0) return out('No stored agents.');
      printTable(['AGENT', 'BREAKER', 'SINCE'], breakers.map((b) => [b.slug, b.state, b.changedAt ?? '-']));
      const open = breakers.filter((b) => b.state !== 'closed').length;
      out(open === 0 ? 'All breakers closed.' : `${open} breaker(s) not closed.`);
    });
}
