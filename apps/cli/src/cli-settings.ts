import type { Command } from 'commander';
import { ConfigError, loadConfig, type AppConfig, type LogLevel } from '#config';
import { CliError, ExitCode } from './cli-errors.js';

export interface CliSettings {
  config: AppConfig;
  /** Quiet by default: warnings and errors only, unless LOG_LEVEL is set or --verbose is given. */
  logLevel: LogLevel;
}

/** Configuration of one command invocation, read from the environment once (as the API does). */
export function cliSettings(command: Command, env: NodeJS.ProcessEnv = process.env): CliSettings {
  let config: AppConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError('Invalid configuration', ExitCode.Failure, error.problems);
    throw error;
  }
  const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
  const logLevel: LogLevel = verbose ? 'debug' : env.LOG_LEVEL ? config.logLevel : 'warn';
  return { config, logLevel };
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}
