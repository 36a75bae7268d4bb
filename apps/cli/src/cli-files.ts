import { existsSync } from 'node:fs';
import { readDefinitionFiles, type DefinitionFile } from '../../../seeds/definition-files.js';
import { CliError } from './cli-errors.js';

/** Definition files at `target` (a file or a folder of .yaml/.yml/.json), or a clear error. */
export function definitionFilesAt(target: string): DefinitionFile[] {
  if (!existsSync(target)) throw new CliError(`No such file or directory: ${target}`);
  let files: DefinitionFile[];
  try {
    files = readDefinitionFiles(target);
  } catch (error) {
    throw new CliError(`Cannot read ${target}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (files.length === 0) throw new CliError(`No .yaml, .yml or .json files in ${target}`);
  return files;
}
