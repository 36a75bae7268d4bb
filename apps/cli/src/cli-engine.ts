/**
 * The engine inside a CLI command. The CLI is a client of the engine, not a worker: its context runs with
 * role `api`, so EngineWorker does not start and a run started here progresses only where a server or worker
 * runs. `runs:start --work` asks for role `all` instead: an in-process worker for as long as the command lives
 * (it claims any ready step of the database, like every worker; on exit it drains or releases its leases).
 */
import { Module, type DynamicModule, type INestApplicationContext } from '@nestjs/common';
import { AgentsModule } from '#agents';
import type { AppConfig, LogLevel } from '#config';
import { EngineModule, EngineWorker, type Actor } from '#engine';
import { EventsModule, EventTail, PgListener } from '#events';
import { withAppContext } from './cli-database.js';
import { CliModule } from './cli.module.js';

/** Who the CLI acts as in the audit log: the operator at the terminal is not a Baton user. */
export const CLI_ACTOR: Actor = { type: 'system', id: null };

@Module({})
export class CliEngineModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: CliEngineModule, imports: [CliModule.forRoot(config), EventsModule, AgentsModule, EngineModule] };
  }
}

export interface EngineContextOptions {
  /** Run an engine worker in this process (role `all`) rather than only reading and writing (role `api`). */
  work?: boolean;
}

export function withEngineContext<T>(
  config: AppConfig,
  logLevel: LogLevel,
  options: EngineContextOptions,
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  const engineConfig: AppConfig = { ...config, role: options.work ? 'all' : 'api' };
  return withAppContext(
    engineConfig,
    logLevel,
    async (app) => {
      try {
        return await work(app);
      } finally {
        // Nest shuts the global modules down database first: the event tail would then poll a closed data source
        // and an embedded server this command started would stop under the open LISTEN connection (warnings at
        // exit). So stop the worker (drain or release its steps), the tail and the listener while the database is up.
        await app.get(EngineWorker, { strict: false }).stop();
        app.get(EventTail, { strict: false }).onApplicationShutdown();
        await app.get(PgListener, { strict: false }).onApplicationShutdown();
      }
    },
    CliEngineModule.forRoot(engineConfig),
  );
}
