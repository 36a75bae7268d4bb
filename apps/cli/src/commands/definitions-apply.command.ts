import type { Command } from 'commander';
import { DomainError, type ProblemDetail } from '#core';
import { DefinitionsService } from '#definitions';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { definitionFilesAt } from '../cli-files.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, err, out } from '../cli-settings.js';

const ACTION_LABEL = { created: 'created', versioned: 'new version', unchanged: 'unchanged' } as const;

export function registerDefinitionsApply(program: Command): void {
  program
    .command('definitions:apply')
    .description('Save definition files: each is created, stored as a new version, or left unchanged when identical')
    .argument('<path>', 'a definition file, or a folder of .yaml/.yml/.json files (sub-orchestrations are applied first)')
    .option('--org <slug>', 'organization to save the definitions in', 'global')
    .action(async (target: string, options: { org: string }, command: Command) => {
      const files = definitionFilesAt(target);
      const { config, logLevel } = cliSettings(command);
      const failed = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        const definitions = app.get(DefinitionsService, { strict: false });
        let failures = 0;
        // One bad file does not stop the others: the report lists every file's outcome.
        for (const file of files) {
          try {
            const { action, definition } = await definitions.apply(organization.id, file.text, null);
            out(`${file.path}: ${ACTION_LABEL[action]} ${definition.slug} v${definition.version}`);
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
            failures++;
            err(`${file.path}: ${error.message}`);
            const problems = Array.isArray(error.details) ? (error.details as ProblemDetail[]) : [];
            for (const problem of problems) err(`  ${problem.path}: ${problem.message}`);
          }
        }
        return failures;
      });
      if (failed > 0) throw new CliError(`${failed} of ${files.length} definition file(s) were not applied.`);
    });
}
