import type { Command } from 'commander';
import { DomainError } from '#core';
import { OrganizationsService } from '#identity';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerOrgsCreate(program: Command): void {
  program
    .command('orgs:create')
    .description('Create an organization (a tenant); add its users with users:create --org <slug>')
    .requiredOption('--slug <slug>', 'unique slug: a-z, 0-9 and -')
    .option('--name <name>', 'display name (default: the slug)')
    .action(async (options: { slug: string; name?: string }, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const organization = await withAppContext(config, logLevel, async (app) => {
        try {
          return await app.get(OrganizationsService, { strict: false }).create(options.slug, options.name);
        } catch (error) {
          if (error instanceof DomainError) throw new CliError(error.message);
          throw error;
        }
      });
      out(`Created organization ${organization.slug} (id ${organization.id}).`);
    });
}
