import type { Command } from 'commander';
import { DATA_SOURCE, migrateDatabase, revertLastMigration } from '#persistence';
import type { DataSource } from 'typeorm';
import { runSeeds } from '../../../../seeds/seed-runner.js';
import { describeDatabase, withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { cliSettings, out } from '../cli-settings.js';
import { printSeedSummary } from '../seed-summary.js';

/** Environments where dropping every table is acceptable. */
const RESETTABLE = ['development', 'test'];

export function registerDbReset(program: Command): void {
  program
    .command('db:reset')
    .description('Revert every migration, migrate and seed again (development and test only: drops all data)')
    .action(async (_options: object, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      if (!RESETTABLE.includes(config.nodeEnv)) {
        throw new CliError(
          `db:reset refuses to run with NODE_ENV=${config.nodeEnv}: it drops every table. It runs only with NODE_ENV=development or test.`,
        );
      }
      const summary = await withAppContext(config, logLevel, async (app) => {
        const dataSource = app.get<DataSource>(DATA_SOURCE);
        let reverted = 0;
        while ((await revertLastMigration(dataSource)) !== null) reverted++;
        const { applied } = await migrateDatabase(dataSource);
        out(`Reset ${describeDatabase(config)}: reverted ${reverted} migration(s), applied ${applied.length}.`);
        return runSeeds(app);
      });
      printSeedSummary(summary);
    });
}
