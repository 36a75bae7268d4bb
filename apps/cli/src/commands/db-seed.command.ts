import type { Command } from 'commander';
import { pendingMigrationNames } from '#persistence';
import { DataSource } from 'typeorm';
import { runSeeds } from '../../../../seeds/seed-runner.js';
import { withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { cliSettings } from '../cli-settings.js';
import { printSeedSummary } from '../seed-summary.js';

export function registerDbSeed(program: Command): void {
  program
    .command('db:seed')
    .description('Insert the seed data (organization global, its admin, base agents, example definitions); safe to re-run')
    .action(async (_options: object, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      const summary = await withAppContext(config, logLevel, async (app) => {
        const pending = await pendingMigrationNames(app.get(DataSource));
        if (pending.length > 0) {
          throw new CliError(`The database has ${pending.length} pending migration(s): run \`npm run cli -- db:migrate\` first.`);
        }
        return runSeeds(app);
      });
      printSeedSummary(summary);
    });
}
