/**
 * A busy database inside engine transactions: statement timeouts (SQLSTATE 57014) and a full disk (53100), raised by
 * PostgreSQL itself in the transaction at the fault point engine.tx.beforeCommit (libs/testing BUSY_DATABASE_FAULTS).
 *
 * - Under a worker, more faults than EngineDatabase.tx retries: the transaction rolls back each time, the worker's
 *   loops back off and try again, and the runs end completed with every step applied once (one step.completed per
 *   step, attempt 1, the event seq gap-free), no transaction left open.
 * - Through the API (no worker in the process): a fault the engine's retries absorb is invisible (201); one that
 *   outlasts them answers 503 in the error shape with Retry-After and creates nothing; the same request once the
 *   database recovers answers 201, and the idempotency key still names one run. The A2A endpoint answers HTTP 503
 *   too, not the JSON-RPC internal error.
 */
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { faultPoints, type Fault } from '#core';
import { BUSY_RETRIES } from '#engine';
import { BUSY_DATABASE_FAULTS, waitForRun } from '#testing';
import { DATABASE_BUSY } from '../apps/api/src/common/domain-exception.filter.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const CHAIN = [
  { key: 'a', agent: 'echo', input: { n: 1 } },
  { key: 'b', agent: 'echo', dependsOn: ['a'], input: { n: 2 } },
  { key: 'c', agent: 'echo', dependsOn: ['b'], input: { n: 3 } },
];

/** Arms engine.tx.beforeCommit with `fault` for `times` hits; returns how many have fired so far. */
function armCounting(fault: Fault, times: number): () => number {
  let fired = 0;
  faultPoints.arm(
    'engine.tx.beforeCommit',
    async (client) => {
      fired++;
      await fault(client);
    },
    times,
  );
  return () => fired;
}

describe('statement timeouts and a full disk inside engine transactions (e2e)', () => {
  afterEach(() => faultPoints.reset());

  describe('under a worker', () => {
    let s: ScratchApp;

    beforeAll(async () => {
      s = await openScratchApp('dbbusyworker', { pollIntervalMs: 100 });
    });

    afterAll(async () => {
      await s?.close();
    });

    it.each(BUSY_DATABASE_FAULTS)(
      '$name: rolled back, retried with backoff, every run completes with each step applied once',
      async ({ fault }) => {
        const slug = await s.define({ steps: CHAIN });
        const started = await Promise.all(
          [1, 2, 3].map(() => s.http().post('/orchestrations/runs').set(s.auth()).send({ definition: slug }).expect(201)),
        );
        // more than one transaction's retries: some claim or result batch fails up to the worker, which tries again
        const times = 3 * (BUSY_RETRIES + 1);
        const fired = armCounting(fault, times);
        for (const { body } of started) {
          const run = await waitForRun(s.app, s.org.users.viewer.token, body.id as string, ['completed', 'failed', 'cancelled'], 60_000);
          expect(run.status).toBe('completed');
        }
        expect(fired()).toBe(times);
        for (const { body } of started) {
          const events: { seq: number; type: string; step_key: string | null }[] = await s.scratch.dataSource.query(
            `SELECT seq, type, step_key FROM orchestration_events WHERE run_id = $1 ORDER BY seq`,
            [body.id],
          );
          expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
          expect(events.filter((e) => e.type === 'step.completed').map((e) => e.step_key)).toEqual(['a', 'b', 'c']);
          expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
          const steps: { step_key: string; attempt: number; status: string }[] = await s.scratch.dataSource.query(
            `SELECT step_key, attempt, status FROM orchestration_steps WHERE run_id = $1 ORDER BY step_key`,
            [body.id],
          );
          expect(steps).toEqual(CHAIN.map((c) => ({ step_key: c.key, attempt: 1, status: 'completed' })));
        }
        const open: { n: string }[] = await s.scratch.dataSource.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
        );
        expect(Number(open[0].n)).toBe(0);
      },
      90_000,
    );
  });

  describe('through the API', () => {
    let s: ScratchApp;
    let app: INestApplication;

    beforeAll(async () => {
      s = await openScratchApp('dbbusyapi', { role: 'api' });
      app = s.app;
    });

    afterAll(async () => {
      await s?.close();
    });

    it.each(BUSY_DATABASE_FAULTS)(
      '$name: absorbed by the retries, else 503 with Retry-After and nothing created, then 201 once',
      async ({ name, fault }) => {
        const slug = await s.define({ steps: CHAIN });
        const start = (key: string) =>
          request(app.getHttpServer()).post('/orchestrations/runs').set(s.auth()).send({ definition: slug, idempotencyKey: key });

        const absorbed = armCounting(fault, BUSY_RETRIES);
        await start(`absorbed-${name}`).expect(201);
        expect(absorbed()).toBe(BUSY_RETRIES);

        const key = `outlasting-${name}`;
        const outlasting = armCounting(fault, BUSY_RETRIES + 1);
        const refused = await start(key);
        expect(outlasting()).toBe(BUSY_RETRIES + 1);
        expect({ status: refused.status, retryAfter: refused.headers['retry-after'], body: refused.body }).toEqual({
          status: 503,
          retryAfter: expect.stringMatching(/^\d+$/),
          body: { statusCode: 503, error: 'Service Unavailable', message: DATABASE_BUSY },
        });
        const count = async () =>
          Number((await s.scratch.dataSource.query(`SELECT count(*) AS n FROM orchestration_runs WHERE idempotency_key = $1`, [key]))[0].n);
        expect(await count()).toBe(0);

        const first = await start(key).expect(201);
        const again = await start(key).expect(200);
        expect(again.body.id).toBe(first.body.id);
        expect(await count()).toBe(1);
      },
    );

    it('A2A SendMessage: a fault that outlasts the retries is HTTP 503 with Retry-After (not -32603), and starts nothing', async () => {
      const slug = await s.define({ steps: CHAIN });
      const send = (messageId: string) =>
        request(app.getHttpServer())
          .post(`/a2a/${slug}`)
          .set({ ...s.auth(), 'A2A-Version': '1.0', 'Content-Type': 'application/json' })
          .send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'SendMessage',
              params: { message: { messageId, role: 'ROLE_USER', parts: [{ data: {} }] }, configuration: { returnImmediately: true } },
            }),
          );
      const fired = armCounting(BUSY_DATABASE_FAULTS[1].fault, BUSY_RETRIES + 1);
      const refused = await send('busy-1');
      expect(fired()).toBe(BUSY_RETRIES + 1);
      expect({ status: refused.status, retryAfter: refused.headers['retry-after'], body: refused.body }).toEqual({
        status: 503,
        retryAfter: expect.stringMatching(/^\d+$/),
        body: { statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/retry later/) },
      });
      const runs = async () =>
        Number((await s.scratch.dataSource.query(`SELECT count(*) AS n FROM orchestration_runs WHERE definition_slug = $1`, [slug]))[0].n);
      expect(await runs()).toBe(0);
      const accepted = await send('busy-1').expect(200);
      expect(accepted.body.result?.task?.id).toEqual(expect.any(String));
      expect(await runs()).toBe(1);
    });
  });
});
