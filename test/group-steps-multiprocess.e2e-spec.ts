/**
 * A group step survives its worker's death: a BATON_ROLE=worker process is killed with -9 while a participant is
 * answering turn 4; another worker takes the step over once the lease expires, reads the three recorded turns and goes
 * on at turn 4. Every finished turn ran exactly once (the participants, real HTTP servers here, count the calls), each
 * turn has one group.turn event and one group_turns row, and the transcript is what an uninterrupted group says.
 */
import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createApp } from '../apps/api/src/bootstrap.js';
import {
  createScratchDatabase,
  createTestOrganization,
  startWorkerProcess,
  testConfig,
  TEST_ADMIN_URL_ENV,
  waitFor,
  waitForRun,
  type TestOrganization,
  type WorkerProcess,
} from '#testing';
import { startStandIn, type StandIn } from './agents/agent-harness.js';

jest.setTimeout(120_000);

describe('group steps across processes (e2e)', () => {
  let url: string;
  let ds: DataSource;
  let app: INestApplication;
  let org: TestOrganization;
  let peer: StandIn;
  const workers: WorkerProcess[] = [];
  const calls: { agent: string; turn: number }[] = [];
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    peer = await startStandIn((req, body, res) => {
      const agent = (req.url ?? '').split('/').pop() as string;
      const turn = (JSON.parse(body) as { group: { turn: number } }).group.turn;
      calls.push({ agent, turn });
      // The first answer to turn 4 never comes: its worker is killed while waiting for it.
      if (turn === 4 && calls.filter((c) => c.turn === 4).length === 1) return void held.push(res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: `${agent} says ${turn}` }));
    });
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `groupmp_${process.pid}`);
    ds = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
    app = await createApp(testConfig({ databaseUrl: url, role: 'api' }));
    await app.init();
    org = await createTestOrganization(app, ds, 'groupmp');
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    for (const res of held) res.destroy();
    await peer?.close();
    await app?.close();
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  it('kill -9 mid-group: the survivor resumes at the next turn, no finished turn runs twice', async () => {
    const admin = { Authorization: `Bearer ${org.users.admin.token}` };
    for (const slug of ['alice', 'bob', 'carol'])
      await request(app.getHttpServer())
        .post('/agents')
        .set(admin)
        .send({ slug, name: slug, type: 'api', config: { url: `${peer.url}/agents/${slug}`, method: 'POST', response: { pointer: '' } } })
        .expect(201);
    await request(app.getHttpServer())
      .post('/orchestrations/definitions')
      .set(admin)
      .send({
        slug: 'mp-group',
        name: 'mp group',
        steps: [{ key: 'talk', type: 'group', participants: ['alice', 'bob', 'carol'], maxTurns: 8 }],
      })
      .expect(201);
    const env = { BATON_LEASE_MS: '1500', BATON_POLL_INTERVAL_MS: '200' };
    const victim = await startWorkerProcess(url, env);
    workers.push(victim);
    const started = await request(app.getHttpServer())
      .post('/orchestrations/runs')
      .set({ Authorization: `Bearer ${org.users.operator.token}` })
      .send({ definition: 'mp-group', input: {} })
      .expect(201);
    const runId = started.body.id as string;
    await waitFor(async () => held.length === 1, 20_000, 'the victim to be waiting on turn 4');
    const [{ recorded }] = await ds.query(`SELECT count(*)::int AS recorded FROM group_turns WHERE run_id = $1`, [runId]);
    expect(recorded).toBe(3);
    await victim.kill();
    const survivor = await startWorkerProcess(url, env);
    workers.push(survivor);

    const run = await waitForRun(app, org.users.operator.token, runId, ['completed'], 30_000);
    const output = run.steps?.[0].output as { transcript: { turn: number; speaker: string; text: string }[]; stopReason: string };
    expect(output.stopReason).toBe('max_turns');
    expect(output.transcript.map((t) => [t.turn, t.speaker, t.text])).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => {
        const speaker = ['alice', 'bob', 'carol'][(n - 1) % 3];
        return [n, speaker, `${speaker} says ${n}`];
      }),
    );
    // Turns 1-3 were finished before the kill: never called again. Turn 4 was in flight: called once more.
    const perTurn = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => calls.filter((c) => c.turn === n).length);
    expect(perTurn).toEqual([1, 1, 1, 2, 1, 1, 1, 1]);
    const [{ turnEvents, distinct }] = await ds.query(
      `SELECT count(*)::int AS "turnEvents", count(DISTINCT payload->>'turn')::int AS distinct FROM orchestration_events WHERE run_id = $1 AND type = 'group.turn'`,
      [runId],
    );
    expect({ turnEvents, distinct }).toEqual({ turnEvents: 8, distinct: 8 });
    const rows = await ds.query(`SELECT turn, attempt FROM group_turns WHERE run_id = $1 ORDER BY turn`, [runId]);
    expect(rows.map((r: { turn: number }) => r.turn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const retried = await ds.query(
      `SELECT payload->>'reason' AS reason FROM orchestration_events WHERE run_id = $1 AND type = 'step.retrying'`,
      [runId],
    );
    expect(retried).toEqual([{ reason: 'lease_expired' }]);
    const owners = await ds.query(
      `SELECT DISTINCT payload->>'worker' AS worker FROM orchestration_events WHERE run_id = $1 AND type = 'step.started'`,
      [runId],
    );
    expect(owners.map((o: { worker: string }) => o.worker.split(':')[1]).sort()).toEqual([String(victim.pid), String(survivor.pid)].sort());
    expect(await survivor.stop()).toBe(0);
  });
});
