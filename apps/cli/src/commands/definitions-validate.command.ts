import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { DefinitionsService } from '#definitions';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { definitionFilesAt } from '../cli-files.js';
import { findOrganization } from '../cli-organization.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerDefinitionsValidate(program: Command): void {
  program
    .command('definitions:validate')
    .description("Validate a definition file (YAML or JSON) against the organization's agents and definitions, without saving")
    .argument('<file>', 'definition file (.yaml, .yml or .json)')
    .option('--org <slug>', 'organization whose agents the definition may use', 'global')
    .action(async (file: string, options: { org: string }, command: Command) => {
      if (existsSync(file) && statSync(file).isDirectory())
        throw new CliError(`${file} is a directory: definitions:validate takes one file`);
      const [definition] = definitionFilesAt(file);
      const { config, logLevel } = cliSettings(command);
      const report = await withAppContext(config, logLevel, async (app) => {
        const organization = await findOrganization(app, options.org);
        return app.get(DefinitionsService, { strict: false }).validate(organization.id, definition.text);
      });
      if (report.valid) {
        out(`${file}: valid`);
        return;
      }
      out(`${file}: invalid (${report.problems.length} problem(s))`);
      for (const problem of report.problems) out(`${problem.path}: ${problem.message}`);
      throw new CliError('');
    });
}
