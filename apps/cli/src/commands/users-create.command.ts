import { Option, type Command } from 'commander';
import { DomainError, ROLES, type ProblemDetail, type Role } from '#core';
import { UsersService } from '#identity';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { cliSettings, out } from '../cli-settings.js';

interface UsersCreateOptions {
  email: string;
  password: string;
  role: Role;
  org: string;
  name?: string;
}

export function registerUsersCreate(program: Command): void {
  program
    .command('users:create')
    .description('Create a user (the organization is created when missing)')
    .requiredOption('--email <email>', 'login email')
    .requiredOption('--password <password>', 'initial password (at least 8 characters)')
    .addOption(new Option('--role <role>', 'role of the user').choices(ROLES).makeOptionMandatory())
    .option('--org <slug>', 'organization of the user', 'global')
    .option('--name <displayName>', 'display name')
    .action(async (options: UsersCreateOptions, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const user = await withAppContext(config, logLevel, async (app) => {
        try {
          return await app.get(UsersService, { strict: false }).create({
            organizationSlug: options.org,
            email: options.email,
            password: options.password,
            role: options.role,
            displayName: options.name,
          });
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          const problems = Array.isArray(error.details) ? (error.details as ProblemDetail[]) : [];
          throw new CliError(
            error.message,
            undefined,
            problems.map((p) => `${p.path}: ${p.message}`),
          );
        }
      });
      out(`Created ${user.role} ${user.email} in organization ${options.org} (id ${user.id}).`);
    });
}
