import pg from 'pg';
import { faultPoints } from '#core';
import { DatabaseServer } from '#persistence';
import { testDatabaseUrl } from '#testing';
import { PgListener } from './pg-listener.js';

/** The shared LISTEN connection's reconnect, on a real PostgreSQL (fault point events.listener.connect). */
describe('PgListener reconnect', () => {
  let listener: PgListener;
  let admin: pg.Client;
  const channel = 'listener_spec';

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    listener = new PgListener(new DatabaseServer(testDatabaseUrl()));
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await listener.onApplicationShutdown();
    await admin.end();
  });

  const received = (into: string[], payload: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => (into.includes(payload) ? resolve() : Date.now() > deadline ? reject(new Error(`no ${JSON.stringify(payload)} in ${JSON.stringify(into)}`)) : setTimeout(check, 20));
      check();
    });

  it('reconnects after its connection is killed, even when the first attempt fails, calls each handler once, and hears NOTIFY again', async () => {
    const payloads: string[] = [];
    await listener.listen(channel, (p) => payloads.push(p));
    await admin.query(`SELECT pg_notify($1, 'before')`, [channel]);
    await received(payloads, 'before');

    let refused = 0;
    faultPoints.arm('events.listener.connect', () => {
      refused++;
      throw new Error('injected: server unreachable');
    });
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'baton-listener' AND query LIKE 'LISTEN ${channel}%'`,
    );
    expect(rows[0].n).toBe(1);
    await received(payloads, ''); // every handler is called once after a reconnect: notifications may have been lost
    expect(refused).toBe(1);
    await admin.query(`SELECT pg_notify($1, 'after')`, [channel]);
    await received(payloads, 'after');
    expect(payloads.filter((p) => p === '')).toHaveLength(1);
  });
});
