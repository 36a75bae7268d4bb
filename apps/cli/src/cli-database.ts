/**
 * Opening the database for a command, either bare (migrations) or inside a Nest application context (commands
 * that need services). Both turn "cannot connect" into one clear message and exit code 3, never a stack trace,
 * and never print credentials.
 */
import { type DynamicModule, type INestApplicationContext, type LogLevel as NestLogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import type { AppConfig, LogLevel } from '#config';
import { AppLogger } from '#observability';
import { openDatabase, type DatabaseHandle } from '#persistence';
import { CliError, errorReason, ExitCode, isConnectionError } from './cli-errors.js';
import { CliModule } from './cli.module.js';

/** Where the command connects, without user or password. */
export function describeDatabase(config: Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort'>): string {
  if (!config.databaseUrl) return `embedded PostgreSQL (data in ${config.dataDir}, port ${config.pgPort})`;
  try {
    const url = new URL(config.databaseUrl);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'DATABASE_URL (unparseable)';
  }
}

function unreachable(config: AppConfig, error: unknown): CliError {
  return new CliError(`Cannot connect to the database at ${describeDatabase(config)}: ${errorReason(error)}`, ExitCode.DatabaseUnreachable);
}

/**
 * A person waits on the CLI: it does not retry an unreachable database (servers do, BATON_DB_STARTUP_RETRY_MS)
 * unless that variable is set explicitly, e.g. for a migration job started together with its database.
 */
export function cliDatabaseConfig(config: AppConfig, env: NodeJS.ProcessEnv = process.env): AppConfig {
  return env.BATON_DB_STARTUP_RETRY_MS ? config : { ...config, dbStartupRetryMs: 0 };
}

export async function withDataSource<T>(config: AppConfig, work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  let handle: DatabaseHandle;
  try {
    handle = await openDatabase(cliDatabaseConfig(config), 2);
  } catch (error) {
    // openDatabase only connects (or starts the embedded server): every failure here is a connection failure.
    throw unreachable(config, error);
  }
  try {
    return await work(handle.dataSource);
  } finally {
    await handle.close();
  }
}

/** The CLI reports a failed start itself, once and in plain words: Nest's own dump of the same error is dropped. */
class CliLogger extends AppLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: NestLogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    if (context === 'ExceptionHandler') return;
    super.printMessages(messages, context, logLevel, writeStreamType, errorStack);
  }
}

export async function withAppContext<T>(
  config: AppConfig,
  logLevel: LogLevel,
  work: (app: INestApplicationContext) => Promise<T>,
  /** The context's root module: CliModule unless a command needs more (the engine, see cli-engine.ts). */
  module: DynamicModule = CliModule.forRoot(config),
): Promise<T> {
  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(module, { logger: new CliLogger(logLevel), abortOnError: false });
  } catch (error) {
    if (isConnectionError(error) || /embedded PostgreSQL/.test(errorReason(error))) throw unreachable(config, error);
    throw error;
  }
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
