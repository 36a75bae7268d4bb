/**
 * Parsing of the runs commands' arguments. Every mistake here is a usage error (exit 2), caught before the
 * database is opened, so a typo never costs a connection or leaves a half-started run.
 */
import { readFileSync } from 'node:fs';
import { isUuid, type JsonValue } from '#core';
import { CliError, ExitCode } from '../cli-errors.js';

/** `--input`: inline JSON, or `@path` to read the JSON from a file. */
export function parseRunInput(value: string): JsonValue {
  const fromFile = value.startsWith('@');
  let text = value;
  if (fromFile) {
    const path = value.slice(1);
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new CliError(`Cannot read the input file ${path}: ${(error as Error).message}`, ExitCode.Usage);
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    const where = fromFile ? `in ${value.slice(1)}` : 'in --input';
    throw new CliError(`Invalid JSON ${where}: ${(error as Error).message}`, ExitCode.Usage, [
      `Pass a JSON value, e.g. --input '{"name":"Ada"}', or --input @file.json`,
    ]);
  }
}

export function parsePositiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new CliError(`${option} must be a positive integer (got "${value}")`, ExitCode.Usage);
  return n;
}


/** Run ids are UUIDs; anything else cannot name a run, so it is refused before asking the database. */
export function parseRunId(value: string): string {
  if (!isUuid(value)) throw new CliError(`"${value}" is not a run id (a UUID, as printed by runs:start and runs:list)`, ExitCode.Usage);
  return value.toLowerCase();
}
