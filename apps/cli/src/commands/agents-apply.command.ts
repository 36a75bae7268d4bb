import type { Command } from 'commander';
import { parse, YAMLError } from 'yaml';
import { AgentRegistryService } from '#agents';
import { DomainError, type ProblemDetail } from '#core';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { definitionFilesAt } from '../cli-files.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, err, out } from '../cli-settings.js';

/** A file holds one agent, or a list of agents. */
function agentDocuments(text: string): unknown[] {
  const parsed: unknown = parse(text, { schema: 'core', uniqueKeys: true, logLevel: 'error' });
  return Array.isArray(parsed) ? parsed : [parsed];
}

export function registerAgentsApply(program: Command): void {
  program
    .command('agents:apply')
    .description('Save agent files (YAML or JSON): each agent is created, updated, or left unchanged when identical')
    .argument('<path>', 'an agent file (one agent, or a list), or a folder of .yaml/.yml/.json files')
    .option('--org <slug>', 'organization to save the agents in', 'global')
    .action(async (target: string, options: { org: string }, command: Command) => {
      const files = definitionFilesAt(target);
      const { config, logLevel } = cliSettings(command);
      const { failures, total } = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        const registry = app.get(AgentRegistryService, { strict: false });
        let failed = 0;
        let count = 0;
        // One bad agent does not stop the others: the report lists every outcome.
        for (const file of files) {
          let documents: unknown[];
          try {
            documents = agentDocuments(file.text);
          } catch (error) {
            failed++;
            count++;
            err(`${file.path}: not valid YAML or JSON: ${error instanceof YAMLError ? error.message : (error as Error).message}`);
            continue;
          }
          for (const document of documents) {
            count++;
            try {
              const { action, agent } = await registry.apply(organization.id, document, { type: 'system', id: null });
              out(`${file.path}: ${action} ${agent.slug}`);
            } catch (error) {
              if (!(error instanceof DomainError)) throw error;
              failed++;
              err(`${file.path}: ${error.message}`);
              const problems = Array.isArray(error.details) ? (error.details as ProblemDetail[]) : [];
              for (const problem of problems) err(`  ${problem.path}: ${problem.message}`);
            }
          }
        }
        return { failures: failed, total: count };
      });
      if (failures > 0) throw new CliError(`${failures} of ${total} agent(s) were not applied.`);
    });
}
