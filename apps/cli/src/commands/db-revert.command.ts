import type { Command } from 'commander';
import { revertLastMigration } from '#persistence';
import { withDataSource } from '../cli-database.js';
import { cliSettings, out } from '../cli-settings.js';

export function registerDbRevert(program: Command): void {
  program
    .command('db:revert')
    .description('Undo the last applied migration')
    .action(async (_options: object, command: Command) => {
      const { config } = cliSettings(command);
      const reverted = await withDataSource(config, revertLastMigration);
      out(reverted ? `Reverted ${reverted}.` : 'Nothing to revert: no migration is applied.');
    });
}
