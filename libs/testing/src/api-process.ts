import { createServer } from 'node:net';
import { startBatonProcess, type WorkerProcess } from './worker-process.js';

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
  const process = await startBatonProcess(
    { DATABASE_URL: databaseUrl, BATON_ROLE: 'api', BATON_AUTO_MIGRATE: 'false', PORT: String(port), ...env },
    'Baton API on',
  );
  return { ...process, baseUrl: `http://127.0.0.1:${port}` };
}
