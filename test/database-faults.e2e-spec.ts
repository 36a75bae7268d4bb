/**
 * Database faults on a PostgreSQL cluster this suite owns (it stops and restarts it): a process started before its
 * database waits for it (backoff, BATON_DB_STARTUP_RETRY_MS) instead of exiting; while the database is down the API
 * answers 503 in the error shape with Retry-After (never a 500, never a hang), /ready says not ready and /health
 * stays up; a restart in the middle of a run loses nothing (the run completes, each step once, its event seq gap-free).
 * Then shutdown, in child processes: SIGTERM (and Ctrl-C, SIGINT to the whole process group, embedded PostgreSQL
 * included) stops accepting HTTP first, drains the in-flight step, flushes it, closes the pools, and exits 0.
 */
import type { INestApplication } from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { projectRoot } from '#config';
import {
  createDataSource,
  ensureDatabase,
  migrateDatabase,
  openDatabase,
  startEmbeddedPostgres,
  withDatabase,
  type EmbeddedServer,
} from '#persistence';
import { createApp } from '../apps/api/src/bootstrap.js';
import { DATABASE_UNAVAILABLE } from '../apps/api/src/common/domain-exception.filter.js';
import {
  createTestOrganization,
  freePort,
  insertDefinition,
  startApiProcess,
  testConfig,
  waitFor,
  waitForRun,
  type TestOrganization,
} from '#testing';

describe('database faults and shutdown (e2e)', () => {
  let dataDir: string;
  let port: number;
  let server: EmbeddedServer;
  let url: string;
  let ds: DataSource;
  const startPg = async () => (server = await startEmbeddedPostgres({ dataDir, port, persistent: true }));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'baton-faults-'));
    chmodSync(dataDir, 0o755);
    port = await freePort();
    await startPg();
    url = withDatabase(server.adminUrl, 'baton_test_faults');
    await ensureDatabase(server.adminUrl, 'baton_test_faults');
    ds = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
  }, 120_000);

  afterAll(async () => {
    await ds?.destroy().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a process started before its database retries with backoff and connects when it comes; with no retry budget it fails at once', async () => {
    await server.stop();
    const config = { databaseUrl: url, dataDir, pgPort: port, dbConnectTimeoutMs: 2000 };
    await expect(openDatabase({ ...config, dbStartupRetryMs: 0 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    let settled = false;
    const opening = openDatabase({ ...config, dbStartupRetryMs: 60_000 }).finally(() => (settled = true));
    await sleep(1500); // a few refused attempts
    expect(settled).toBe(false);
    await startPg();
    const handle = await opening;
    expect(await handle.dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await handle.close();
  }, 90_000);

  describe('while the database is down', () => {
    let app: INestApplication;
    let base: string;
    let org: TestOrganization;

    beforeAll(async () => {
      app = await createApp(testConfig({ databaseUrl: url, pollIntervalMs: 100, dbConnectTimeoutMs: 2000, leaseMs: 5000 }));
      await app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      org = await createTestOrganization(app, ds, 'faults');
      await insertDefinition(ds, org.id, {
        slug: 'faults-chain',
        name: 'faults chain',
        steps: [
          { key: 'a', agent: 'sleep', input: { ms: 300 } },
          { key: 'b', agent: 'sleep', dependsOn: ['a'], input: { ms: 1500 } },
          { key: 'c', agent: 'echo', dependsOn: ['b'], input: { n: 3 } },
          { key: 'd', agent: 'echo', dependsOn: ['c'], input: { n: 4 } },
        ],
      });
    }, 60_000);

    afterAll(async () => {
      await app?.close();
    });

    const get = async (path: string, token?: string) => {
      const res = await fetch(base + path, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
    };

    it('answers 503 in the error shape (not 500, not a hang), /ready not ready, and the run restarted mid-way completes with nothing lost', async () => {
      const started = await fetch(`${base}/orchestrations/runs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${org.users.operator.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ definition: 'faults-chain' }),
      });
      expect(started.status).toBe(201);
      const runId = ((await started.json()) as { id: string }).id;
      await waitFor(
        async () =>
          (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND step_key = 'b' AND status = 'running'`, [runId]))
            .length > 0,
        20_000,
        'step b to run',
      );
      await ds.destroy();

      await server.stop(); // fast shutdown, with the API's, the engine's and the listener's connections open and step b in flight
      const downAt = Date.now();
      try {
        for (const path of ['/orchestrations/runs', `/orchestrations/runs/${runId}`, '/orchestrations/approvals', '/me']) {
          const res = await get(path, org.users.viewer.token);
          expect({ path, ...res }).toEqual({
            path,
            status: 503,
            retryAfter: expect.stringMatching(/^\d+$/),
            body: { statusCode: 503, error: 'Service Unavailable', message: DATABASE_UNAVAILABLE },
          });
        }
        const login = await fetch(`${base}/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: org.users.viewer.email, password: org.users.viewer.password }),
          signal: AbortSignal.timeout(15_000),
        });
        expect(login.status).toBe(503);
        // the streams too: an SSE open answers 503 JSON, a WebSocket upgrade 503 (not 401: the token is fine)
        for (const path of ['/orchestrations/stream', `/orchestrations/runs/${runId}/stream`]) {
          const res = await get(path, org.users.viewer.token);
          expect({ path, status: res.status, message: res.body.message }).toEqual({ path, status: 503, message: DATABASE_UNAVAILABLE });
        }
        const upgrade = await new Promise<number | undefined>((resolve, reject) => {
          const ws = new WebSocket(`${base.replace('http', 'ws')}/orchestrations/ws`, {
            headers: { Authorization: `Bearer ${org.users.viewer.token}` },
          });
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
          ws.once('open', () => reject(new Error('the socket opened while the database was down')));
          ws.once('error', () => undefined);
        });
        expect(upgrade).toBe(503);
        const ready = await get('/ready');
        expect(ready.status).toBe(503);
        expect(ready.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/Database unreachable/) });
        expect((await get('/health')).status).toBe(200);
        // The outage lasts 10 s in all (the case): the worker's loops, the event tail and LISTEN meet it for a while.
        await sleep(Math.max(2000, 10_000 - (Date.now() - downAt)));
      } finally {
        await startPg();
      }

      ds = createDataSource(url, 3);
      await ds.initialize();
      const run = await waitForRun(app, org.users.viewer.token, runId, ['completed', 'failed'], 90_000);
      expect(run.status).toBe('completed');
      const events: { seq: number; type: string; step_key: string | null }[] = await ds.query(
        `SELECT seq, type, step_key FROM orchestration_events WHERE run_id = $1 ORDER BY seq`,
        [runId],
      );
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const completed = events.filter((e) => e.type === 'step.completed').map((e) => e.step_key);
      expect(completed.sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
      await waitFor(async () => (await get('/ready')).status === 200, 30_000, '/ready to come back');
      expect((await get(`/orchestrations/runs/${runId}`, org.users.viewer.token)).status).toBe(200);
    }, 150_000);
  });

  describe('shutdown', () => {
    const slowRun = async (baseUrl: string, token: string, slug: string) => {
      const res = await fetch(`${baseUrl}/orchestrations/runs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ definition: slug }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const login = async (baseUrl: string, email: string, password: string) => {
      const res = await fetch(`${baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    /** The order of the shutdown's log lines: each must appear, after the one before. */
    const expectInOrder = (output: string, lines: RegExp[]) => {
      let from = 0;
      for (const line of lines) {
        const at = output.slice(from).search(line);
        if (at < 0) throw new Error(`shutdown log lacks ${line} after position ${from}:\n${output.slice(-4000)}`);
        from += at + 1;
      }
    };

    it('SIGTERM: stops accepting HTTP, drains and flushes the in-flight step, closes the pools, exits 0', async () => {
      const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('faults-shutdown', 'x') RETURNING id`);
      await insertDefinition(ds, org.id, {
        slug: 'drain',
        name: 'drain',
        steps: [
          { key: 'slow', agent: 'sleep', input: { ms: 2000 } },
          { key: 'after', agent: 'echo', dependsOn: ['slow'] },
        ],
      });
      const { hashPassword } = await import('#identity');
      await ds.query(`INSERT INTO users (organization_id, email, password_hash, role) VALUES ($1, 'op@faults.test', $2, 'operator')`, [
        org.id,
        await hashPassword('correct-horse-battery'),
      ]);
      const api = await startApiProcess(url, { BATON_ROLE: 'all', BATON_SHUTDOWN_GRACE_MS: '20000', BATON_POLL_INTERVAL_MS: '100' });
      try {
        const runId = await slowRun(api.baseUrl, await login(api.baseUrl, 'op@faults.test', 'correct-horse-battery'), 'drain');
        await waitFor(
          async () =>
            (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND step_key = 'slow' AND status = 'running'`, [runId]))
              .length > 0,
          20_000,
          'the slow step to run',
        );
        const exited = new Promise<number | null>((resolve) => api.child.once('exit', (code) => resolve(code)));
        api.child.kill('SIGTERM');
        await waitFor(async () => api.output().includes('stopped accepting connections'), 10_000, 'HTTP to stop');
        await expect(fetch(`${api.baseUrl}/health`)).rejects.toThrow();
        expect(await exited).toBe(0);
        expectInOrder(api.output(), [/SIGTERM received/, /HTTP server stopped accepting/, /worker \S+ stopped/, /database pool closed/]);
        expect(api.output()).toMatch(/shutdown complete/);
        const steps = await ds.query(`SELECT step_key, status, lease_owner FROM orchestration_steps WHERE run_id = $1 ORDER BY position`, [
          runId,
        ]);
        expect(steps).toEqual([
          { step_key: 'slow', status: 'completed', lease_owner: null },
          { step_key: 'after', status: 'ready', lease_owner: null },
        ]);
        expect(api.output()).not.toMatch(/ECONNREFUSED/);
      } finally {
        await api.kill();
      }
    }, 90_000);

    it('Ctrl-C (SIGINT to the whole process group) on `npm start` with the embedded database: the step is drained and flushed before PostgreSQL stops', async () => {
      const home = mkdtempSync(join(tmpdir(), 'baton-ctrlc-'));
      chmodSync(home, 0o755);
      const httpPort = await freePort();
      const pgPort = String(await freePort());
      const child: ChildProcess = spawn(process.execPath, [join(projectRoot(), 'dist/apps/api/src/main.js')], {
        detached: true, // its own process group, like a terminal's foreground job
        env: {
          ...process.env,
          DATABASE_URL: '',
          BATON_DATA_DIR: home,
          BATON_PG_PORT: pgPort,
          BATON_AUTO_MIGRATE: 'true',
          BATON_ROLE: 'all',
          PORT: String(httpPort),
          LOG_LEVEL: 'log',
          NODE_ENV: 'test',
          BATON_SHUTDOWN_GRACE_MS: '20000',
          BATON_POLL_INTERVAL_MS: '100',
          ADMIN_EMAIL: 'admin@ctrlc.test',
          ADMIN_PASSWORD: 'correct-horse-battery',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const baseUrl = `http://127.0.0.1:${httpPort}`;
      try {
        await waitFor(async () => output.includes('Baton API on') || child.exitCode !== null, 90_000, 'the API to start');
        expect(child.exitCode).toBeNull();
        const token = await login(baseUrl, 'admin@ctrlc.test', 'correct-horse-battery');
        const define = await fetch(`${baseUrl}/orchestrations/definitions`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ slug: 'ctrlc', name: 'ctrlc', steps: [{ key: 'slow', agent: 'sleep', input: { ms: 2000 } }] }),
        });
        expect(define.status).toBe(201);
        const runId = await slowRun(baseUrl, token, 'ctrlc');
        await waitFor(
          async () => {
            const res = await fetch(`${baseUrl}/orchestrations/runs/${runId}`, { headers: { Authorization: `Bearer ${token}` } });
            return ((await res.json()) as { steps?: { status: string }[] }).steps?.[0]?.status === 'running';
          },
          20_000,
          'the slow step to run',
        );
        process.kill(-(child.pid as number), 'SIGINT'); // what Ctrl-C does: every process of the foreground group
        expect(await exited).toBe(0);
        expectInOrder(output, [/SIGINT received/, /HTTP server stopped accepting/, /worker \S+ stopped/, /database pool closed/]);
        expect(output).toMatch(/shutdown complete/);
        expect(output).not.toMatch(/ECONNREFUSED|terminating connection due to administrator command/);
        // the drained step's result reached the database: start again and look
        const again = await startApiProcess('', { BATON_DATA_DIR: home, BATON_PG_PORT: pgPort, BATON_ROLE: 'api' });
        try {
          const token2 = await login(again.baseUrl, 'admin@ctrlc.test', 'correct-horse-battery');
          const res = await fetch(`${again.baseUrl}/orchestrations/runs/${runId}`, { headers: { Authorization: `Bearer ${token2}` } });
          expect(((await res.json()) as { status: string }).status).toBe('completed');
        } finally {
          expect(await again.stop()).toBe(0);
        }
      } finally {
        if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
        rmSync(home, { recursive: true, force: true });
      }
    }, 180_000);
  });
});
