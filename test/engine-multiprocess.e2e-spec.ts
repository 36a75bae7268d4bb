/**
 * The engine across processes: several BATON_ROLE=worker processes share one (scratch) database, and the
 * test process serves the API only. Checks exactly-once results under concurrency, and recovery after kill -9.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createScratchDatabase,
  createTestOrganization,
  insertDefinition,
  startWorkerProcess,
  testConfig,
  TEST_ADMIN_URL_ENV,
  waitFor,
  type TestOrganization,
  type WorkerProcess,
} from '#testing';

import { jest } from '@jest/globals';

jest.setTimeout(120_000);

describe('durable engine across processes (e2e)', () => {
  let url: string;
  let ds: DataSource;
  let app: INestApplication;
  let org: TestOrganization;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `multiproc_${process.pid}`);
    ds = createDataSource(url, 5);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(testConfig({ databaseUrl: url, role: 'api' }));
    await app.init();
    org = await createTestOrganization(app, ds, 'multiproc');
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await app?.close();
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  const startRuns = async (slug: string, n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, n - i) }, () =>
          request(app.getHttpServer()).post('/orchestrations/runs').set('Authorization', `Bearer ${org.users.operator.token}`).send({ definition: slug, input: {} }),
        ),
      );
      for (const res of batch) {
        expect(res.status).toBe(201);
        ids.push(res.body.id);
      }
    }
    return ids;
  };

  const allDone = (ids: string[], timeoutMs: number) =>
    waitFor(
      async () => {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM orchestration_runs WHERE id = ANY($1) AND status = 'completed'`, [ids]);
        return n === ids.length;
      },
      timeoutMs,
      `${ids.length} runs to complete`,
    );

  /** Every step has exactly one step.completed event, and every run's seq runs 1..last_seq with no gap. */
  const assertExactlyOnce = async (ids: string[], stepsPerRun: number) => {
    const [steps] = await ds.query(
      `SELECT count(*)::int AS steps, count(*) FILTER (WHERE status = 'completed')::int AS completed FROM orchestration_steps WHERE run_id = ANY($1)`,
      [ids],
    );
    expect(steps).toEqual({ steps: ids.length * stepsPerRun, completed: ids.length * stepsPerRun });
    const dupes = await ds.query(
      `SELECT run_id, step_key, count(*)::int AS n FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.completed'
        GROUP BY run_id, step_key HAVING count(*) <> 1`,
      [ids],
    );
    expect(dupes).toEqual([]);
    const [{ completed }] = await ds.query(`SELECT count(*)::int AS completed FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.completed'`, [ids]);
    expect(completed).toBe(ids.length * stepsPerRun);
    const gaps = await ds.query(
      `SELECT r.id FROM orchestration_runs r
        WHERE r.id = ANY($1)
          AND (SELECT count(*) FROM orchestration_events e WHERE e.run_id = r.id) <> r.last_seq
           OR EXISTS (SELECT 1 FROM orchestration_events e WHERE e.run_id = r.id AND (e.seq < 1 OR e.seq > r.last_seq))`,
      [ids],
    );
    expect(gaps).toEqual([]);
  };

  it('3 worker processes run 200 runs of 20 steps: every step completes exactly once, every run completes', async () => {
    const steps: DefinitionSpec['steps'] = [{ key: 's0', agent: 'echo', input: { i: 0 } }];
    for (let i = 1; i < 19; i++) steps.push({ key: `s${i}`, agent: 'echo', dependsOn: ['s0'], input: { i } });
    steps.push({ key: 's19', agent: 'echo', dependsOn: steps.slice(1).map((s) => s.key), input: { i: 19 } });
    await insertDefinition(ds, org.id, { slug: 'mp-fanout', name: 'mp fan-out', steps });
    for (let i = 0; i < 3; i++) workers.push(await startWorkerProcess(url, { BATON_WORKER_CONCURRENCY: '40' }));
    const ids = await startRuns('mp-fanout', 200);
    await allDone(ids, 90_000);
    await assertExactlyOnce(ids, 20);
    const owners = await ds.query(
      `SELECT count(DISTINCT payload->>'worker')::int AS n FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.started'`,
      [ids],
    );
    expect(owners[0].n).toBe(3);
    for (const worker of workers.splice(0)) expect(await worker.stop()).toBe(0);
  });

  it('kill -9 of a worker mid-run: another instance finishes its steps after the lease expires, nothing completes twice', async () => {
    const steps: DefinitionSpec['steps'] = [];
    for (let i = 0; i < 5; i++) steps.push({ key: `c${i}`, agent: 'sleep', input: { ms: 150 }, ...(i > 0 ? { dependsOn: [`c${i - 1}`] } : {}) });
    await insertDefinition(ds, org.id, { slug: 'mp-crash', name: 'mp crash', steps });
    const env = { BATON_LEASE_MS: '1500', BATON_WORKER_CONCURRENCY: '20' };
    const victim = await startWorkerProcess(url, env);
    const survivor = await startWorkerProcess(url, env);
    workers.push(victim, survivor);
    const ids = await startRuns('mp-crash', 40);
    // Mid-run: some steps done already (on a loaded machine the first ones may take a while), the victim holding others.
    await waitFor(
      async () => {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM orchestration_steps WHERE status = 'running' AND lease_owner LIKE $1`, [`%:${victim.pid}:%`]);
        const [{ done }] = await ds.query(`SELECT count(*)::int AS done FROM orchestration_steps WHERE run_id = ANY($1) AND status = 'completed'`, [ids]);
        return n > 0 && done > 0;
      },
      20_000,
      'the victim to hold running steps after some completed',
    );
    const [{ before }] = await ds.query(`SELECT count(*)::int AS before FROM orchestration_steps WHERE run_id = ANY($1) AND status = 'completed'`, [ids]);
    await victim.kill();
    const killedAt = Date.now();
    await allDone(ids, 30_000);
    // Recovery needs the lease to expire (1.5 s) and a reaper pass; bound it generously in seconds.
    expect(Date.now() - killedAt).toBeLessThan(25_000);
    await assertExactlyOnce(ids, 5);
    expect(before).toBeGreaterThan(0);
    const reclaimed = await ds.query(`SELECT count(*)::int AS n FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.retrying' AND payload->>'reason' = 'lease_expired'`, [ids]);
    expect(reclaimed[0].n).toBeGreaterThan(0);
    expect(await survivor.stop()).toBe(0);
  });

  it('kill -9 of a worker during a forEach fan-out: every parent completes with each item run once, no duplicate child', async () => {
    await insertDefinition(ds, org.id, {
      slug: 'mp-child',
      name: 'mp child',
      steps: [
        { key: 'nap', agent: 'sleep', input: { ms: 200 } },
        { key: 'out', agent: 'echo', dependsOn: ['nap'], input: { item: '{{ input.item }}' } },
      ],
    });
    const items = Array.from({ length: 12 }, (_, i) => i);
    await insertDefinition(ds, org.id, {
      slug: 'mp-fan',
      name: 'mp fan-out of children',
      steps: [
        { key: 'each', type: 'orchestration', orchestration: 'mp-child', forEach: `{{ input.items }}`, concurrency: 4, input: { item: '{{ item }}' } },
      ],
    });
    const env = { BATON_LEASE_MS: '1500', BATON_WORKER_CONCURRENCY: '20' };
    const victim = await startWorkerProcess(url, env);
    const survivor = await startWorkerProcess(url, env);
    workers.push(victim, survivor);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await request(app.getHttpServer())
        .post('/orchestrations/runs')
        .set('Authorization', `Bearer ${org.users.operator.token}`)
        .send({ definition: 'mp-fan', input: { items } })
        .expect(201);
      ids.push(res.body.id);
    }
    await waitFor(
      async () => {
        const [{ n }] = await ds.query(
          `SELECT count(*)::int AS n FROM orchestration_steps s JOIN orchestration_runs r ON r.id = s.run_id
            WHERE r.parent_run_id = ANY($1) AND s.status = 'running' AND s.lease_owner LIKE $2`,
          [ids, `%:${victim.pid}:%`],
        );
        return n > 0;
      },
      20_000,
      'the victim to run child steps',
    );
    await victim.kill();
    await allDone(ids, 60_000);
    const children = await ds.query(
      `SELECT parent_run_id, count(*)::int AS n, count(DISTINCT item_index)::int AS items, max(parent_attempt)::int AS attempts,
              count(*) FILTER (WHERE status = 'completed')::int AS completed
         FROM orchestration_runs WHERE parent_run_id = ANY($1) GROUP BY parent_run_id`,
      [ids],
    );
    expect(children).toHaveLength(10);
    for (const row of children) expect(row).toMatchObject({ n: 12, items: 12, attempts: 1, completed: 12 });
    const outputs = await ds.query(`SELECT output FROM orchestration_runs WHERE id = ANY($1)`, [ids]);
    for (const { output } of outputs) expect(output).toEqual({ each: items.map((item) => ({ out: { item } })) });
    const started = await ds.query(
      `SELECT run_id, count(*)::int AS n FROM orchestration_events WHERE run_id = ANY($1) AND type = 'step.child_started' GROUP BY run_id`,
      [ids],
    );
    expect(started.map((r: { n: number }) => r.n)).toEqual(ids.map(() => 12));
    expect(await survivor.stop()).toBe(0);
  });

  it('SIGTERM drains: the in-flight step finishes and is applied, the worker exits 0, nothing is claimed after', async () => {
    await insertDefinition(ds, org.id, {
      slug: 'mp-drain',
      name: 'mp drain',
      steps: [
        { key: 'slow', agent: 'sleep', input: { ms: 1500 } },
        { key: 'after', agent: 'echo', dependsOn: ['slow'] },
      ],
    });
    const worker = await startWorkerProcess(url, { BATON_LEASE_MS: '10000' });
    workers.push(worker);
    const [runId] = await startRuns('mp-drain', 1);
    await waitFor(
      async () => (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND step_key = 'slow' AND status = 'running'`, [runId])).length > 0,
      20_000,
      'the slow step to start',
    );
    expect(await worker.stop()).toBe(0);
    const steps = await ds.query(`SELECT step_key, status, lease_owner FROM orchestration_steps WHERE run_id = $1 ORDER BY position`, [runId]);
    // The drained step completed; its dependent became ready but was not claimed by a worker that was stopping.
    expect(steps).toEqual([
      { step_key: 'slow', status: 'completed', lease_owner: null },
      { step_key: 'after', status: 'ready', lease_owner: null },
    ]);
  });
});
