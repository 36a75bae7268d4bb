import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#config';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CLI_ENTRY = join(projectRoot(), 'dist', 'apps', 'cli', 'src', 'main.js');

/** Runs the compiled CLI (`npm test` builds it first) as an operator would: a child process, judged by exit code and output. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      env: { ...process.env, LOG_LEVEL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
