import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { migrateDatabase, revertLastMigration } from '#persistence';
import { DataSource } from 'typeorm';
import { runSeeds } from '../../../../seeds/seed-runner.js';
import { describeDatabase, withAppContext } from '../cli-database.js';
import { CliError } from '../cli-errors.js';
import { cliSettings, out } from '../cli-settings.js';
import { printSeedSummary } from '../seed-summary.js';

/** Environments where dropping every table is acceptable. */
const RESETTABLE = ['development', 'test'];
/** Connections that belong to a running API or worker process (the engine's pools and the event listener). */
const SERVER_CONNECTIONS = ['baton-engine', 'baton-worker', 'baton-listener'];

/** Other sessions of a running Baton server on this database: resetting under it would break it mid-transaction. */
async function serverSessions(dataSource: DataSource): Promise<number> {
  const rows: { n: number }[] = await dataSource.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ANY($1)`,
    [SERVER_CONNECTIONS],
  );
  return rows[0].n;
}

/** Asks on a terminal; anywhere else (scripts, CI) only --yes confirms. */
async function confirmed(what: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`This drops every table of ${what}. Type "yes" to go on: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

export function registerDbReset(program: Command): void {
  program
    .command('db:reset')
    .description('Revert every migration, migrate and seed again (development and test only: drops all data)')
    .option('--yes', 'do not ask for confirmation (NODE_ENV=test never asks)')
    .action(async (options: { yes?: boolean }, command: Command) => {
      const { config, logLevel } = cliSettings(command);
      if (!RESETTABLE.includes(config.nodeEnv)) {
        throw new CliError(
          `db:reset refuses to run with NODE_ENV=${config.nodeEnv}: it drops every table. It runs only with NODE_ENV=development or test.`,
        );
      }
      const target = describeDatabase(config);
      if (!options.yes && config.nodeEnv !== 'test' && !(await confirmed(target))) {
        throw new CliError(`db:reset drops every table of ${target}: confirm on a terminal, or pass --yes.`);
      }
      const summary = await withAppContext(config, logLevel, async (app) => {
        const dataSource = app.get(DataSource);
        const sessions = await serverSessions(dataSource);
        if (sessions > 0) {
          throw new CliError(`db:reset refuses: a Baton API or worker is connected to ${target} (${sessions} session(s)). Stop it first.`);
        }
        let reverted = 0;
        while ((await revertLastMigration(dataSource)) !== null) reverted++;
        const { applied } = await migrateDatabase(dataSource);
        out(`Reset ${target}: reverted ${reverted} migration(s), applied ${applied.length}.`);
        return runSeeds(app);
      });
      printSeedSummary(summary);
    });
}
