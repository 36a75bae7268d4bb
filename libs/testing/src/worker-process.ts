import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#config';

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** SIGTERM and wait for exit (graceful drain). */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, no cleanup at all. */
  kill(): Promise<void>;
}

/** Starts the compiled Baton entry point as a BATON_ROLE=worker process on `databaseUrl` (needs `npm test`'s build). */
export function startWorkerProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  return startBatonProcess({ DATABASE_URL: databaseUrl, BATON_ROLE: 'worker', ...env }, 'worker running');
}

/** Starts the compiled entry point with `env` and resolves once its output shows `ready` (a log line). */
export async function startBatonProcess(env: Record<string, string>, ready: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/apps/api/src/main.js')], {
    env: { ...process.env, LOG_LEVEL: 'log', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${env.BATON_ROLE ?? 'baton'} process did not start:\n${output}`)), 20_000);
    const check = () => {
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`${env.BATON_ROLE ?? 'baton'} process exited during start:\n${output}`));
    });
  });
  return {
    child,
    pid: child.pid as number,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
