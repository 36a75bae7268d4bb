import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from '#config';
import type { WorkerProcess } from './worker-process.js';

export interface ApiProcess extends WorkerProcess {
  /** http://127.0.0.1:<port> */
  baseUrl: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the compiled Baton entry point as a separate HTTP API process (BATON_ROLE=api by default) on `databaseUrl`
 * (needs `npm test`'s build): what one instance of a multi-instance deployment is, sharing nothing but PostgreSQL.
 */
export async function startApiProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/apps/api/src/main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      BATON_ROLE: 'api',
      BATON_AUTO_MIGRATE: 'false',
      PORT: String(port),
      LOG_LEVEL: 'log',
      NODE_ENV: 'test',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API process did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', () => {
      if (output.includes('Baton API on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`API process exited during start:\n${output}`));
    });
  });
  return {
    child,
    pid: child.pid as number,
    baseUrl: `http://127.0.0.1:${port}`,
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
