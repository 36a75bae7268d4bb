import type { Command } from 'commander';
import { migrateDatabase } from '#persistence';
import { withDataSource } from '../cli-database.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerDbMigrate(program: Command): void {
  program
    .command('db:migrate')
    .description('Apply pending migrations (a no-op when the schema is current)')
    .action(async (_options: object, command: Command) => {
      const { config } = cliSettings(command);
      const { applied } = await withDataSource(config, migrateDatabase);
      if (applied.length === 0) {
        out('Database is up to date: no pending migrations.');
        return;
      }
      out(`Applied ${applied.length} migration(s):`);
      for (const name of applied) out(`  ${name}`);
    });
}
