import pg from 'pg';
import { faultPoints } from '#core';
import { EVENTS_CHANNEL, PgListener } from '#events';
import { DatabaseServer } from '#persistence';
import { BUSY_DATABASE_FAULTS, openScratchDatabase, testConfig, testDatabaseUrl, type ScratchDatabase } from '#testing';
import type { CommittedEvent } from './committed-event.js';
import { BUSY_RETRIES, commitWith, EngineDatabase, notifyAfterCommit, observeAfterCommit, together } from './engine-database.js';

/** Pipelined transactions on a real PostgreSQL: what rides with COMMIT, and which error a failed flight reports. */
describe('EngineDatabase transactions', () => {
  const table = `engine_db_spec_${process.pid}`;
  let db: EngineDatabase;

  beforeAll(async () => {
    db = new EngineDatabase(new DatabaseServer(testDatabaseUrl()), testConfig());
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.onApplicationShutdown();
  });

  const ids = async () => (await db.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);

  it('commits the statements that ride with COMMIT', async () => {
    await db.tx(async (client) => {
      await client.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
      commitWith(client, client.query(`INSERT INTO ${table} VALUES ($1)`, [2]));
    });
    expect(await ids()).toEqual([1, 2]);
  });

  it('rolls everything back when a statement riding with COMMIT fails, and throws that statement’s error', async () => {
    const attempt = db.tx(async (client) => {
      await client.query(`INSERT INTO ${table} VALUES ($1)`, [3]);
      commitWith(client, client.query(`INSERT INTO ${table} VALUES ($1)`, [1]), client.query(`INSERT INTO ${table} VALUES ($1)`, [4]));
      return 'committed';
    });
    await expect(attempt).rejects.toMatchObject({ code: '23505' });
    expect(await ids()).toEqual([1, 2]);
  });

  it('reports the first failure of statements sent together, not the aborted ones after it', async () => {
    const attempt = db.tx((client) =>
      together([
        client.query(`SELECT 1`, []),
        client.query(`SELECT 1 / $1::int`, [0]),
        client.query(`INSERT INTO ${table} VALUES ($1)`, [5]),
      ]),
    );
    await expect(attempt).rejects.toMatchObject({ code: '22012' }); // division by zero, not 25P02 (transaction aborted)
    expect(await ids()).toEqual([1, 2]);
  });

  it('prepares each parameterized statement once per connection and reuses it', async () => {
    const insert = `INSERT INTO ${table} VALUES ($1)`;
    for (let i = 10; i < 30; i++) await db.tx((client) => client.query(insert, [i]));
    const prepared = await db.tx(async (client) => {
      await client.query(insert, [30]);
      await client.query(insert, [31]);
      return (await client.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE statement = $1`, [insert])).rows;
    });
    expect(prepared).toHaveLength(1);
    expect(prepared[0].name).toMatch(/^baton_/);
  });
});

/** The retry of `tx` and the fault point at COMMIT (see libs/core/src/fault-points.ts). */
describe('EngineDatabase retries and fault points', () => {
  const table = `engine_db_retry_${process.pid}`;
  let db: EngineDatabase;

  beforeAll(async () => {
    db = new EngineDatabase(new DatabaseServer(testDatabaseUrl()), testConfig());
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)`);
    await db.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0), (3, 0)`);
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.onApplicationShutdown();
  });

  it('retries a serialization failure at COMMIT and gives up on any other error there', async () => {
    let calls = 0;
    const n = async () => (await db.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 1`))[0].n;
    faultPoints.arm('engine.tx.beforeCommit', () => {
      throw Object.assign(new Error('could not serialize access'), { code: '40001' });
    });
    await db.tx(async (client) => {
      calls++;
      await client.query(`UPDATE ${table} SET n = n + 10 WHERE id = $1`, [1]);
    });
    expect(calls).toBe(2);
    expect(await n()).toBe(10);

    faultPoints.arm('engine.tx.beforeCommit', () => {
      throw new Error('disk on fire');
    });
    await expect(db.tx((client) => client.query(`UPDATE ${table} SET n = n + 100 WHERE id = $1`, [1]))).rejects.toThrow('disk on fire');
    expect(await n()).toBe(10);
  });

  it.each(BUSY_DATABASE_FAULTS)('rolls back $name (SQLSTATE $sqlState) and retries it after a backoff, twice, then lets the caller know', async ({ sqlState, fault }) => {
    const n = async () => (await db.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 3`))[0].n;
    const before = await n();
    let calls = 0;
    faultPoints.arm('engine.tx.beforeCommit', fault, BUSY_RETRIES);
    const started = Date.now();
    await db.tx(async (client) => {
      calls++;
      await client.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [3]);
    });
    expect(calls).toBe(BUSY_RETRIES + 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100); // backoffs of ~100 and ~200 ms (equal jitter: at least half)
    expect(await n()).toBe(before + 1); // applied once: the failed attempts rolled back
    faultPoints.arm('engine.tx.beforeCommit', fault, BUSY_RETRIES + 1);
    await expect(db.tx((client) => client.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [3]))).rejects.toMatchObject({ code: sqlState });
    expect(await n()).toBe(before + 1);
    const stuck = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND application_name = 'baton-engine'`,
    );
    expect(Number(stuck[0].n)).toBe(0);
  });

  it('survives its connection dying before COMMIT: nothing is committed and the pool hands out a live connection next', async () => {
    faultPoints.arm('engine.tx.beforeCommit', async (client) => {
      await (client as { query(sql: string): Promise<unknown> }).query('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => undefined);
    });
    await expect(db.tx((client) => client.query(`UPDATE ${table} SET n = n + 1000 WHERE id = $1`, [2]))).rejects.toThrow();
    expect((await db.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 2`))[0].n).toBe(0);
    for (let i = 0; i < 12; i++) await db.tx((client) => client.query(`SELECT 1 WHERE $1::int > 0`, [i])); // more than the pool holds
  });
});

/** Observers of committed events (metrics, transition logs, run spans): after COMMIT only, once, never on rollback. */
describe('EngineDatabase committed-event observers', () => {
  const table = `engine_db_observe_${process.pid}`;
  let db: EngineDatabase;
  const event = (id: string): CommittedEvent => ({
    id,
    runId: '00000000-0000-4000-8000-000000000001',
    organizationId: '00000000-0000-4000-8000-000000000002',
    seq: Number(id),
    type: 'step.completed',
    stepKey: 'a',
    payload: {},
    definition: 'd',
    traceParent: null,
    agent: 'echo',
    stepAttempt: 1,
    sinceStartedMs: 1,
    dueToStartMs: 0,
    startedAfterDue: true,
  });

  beforeAll(async () => {
    db = new EngineDatabase(new DatabaseServer(testDatabaseUrl()), testConfig());
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  });

  afterEach(() => faultPoints.reset());

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.onApplicationShutdown();
  });

  it("hands a transaction's events to observers once it committed, and never those of a rolled-back attempt", async () => {
    const seen: { ids: string[]; visible: number }[] = [];
    const pending: Promise<void>[] = [];
    const off = db.onCommitted((events) => {
      const entry = { ids: events.map((e) => e.id), visible: -1 };
      seen.push(entry);
      // Another connection already sees what the transaction wrote: the observer runs after COMMIT.
      pending.push(db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`).then(([r]) => void (entry.visible = r.n)));
    });
    db.onCommitted(() => {
      throw new Error('a broken observer must not fail the transaction');
    });
    try {
      await db.tx(async (client) => {
        await client.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
        observeAfterCommit(client, [event('1'), event('2')]);
      });
      await Promise.all(pending); // the observer's read, before anything else writes
      await expect(
        db.tx(async (client) => {
          observeAfterCommit(client, [event('3')]);
          commitWith(client, client.query(`INSERT INTO ${table} VALUES ($1)`, [1])); // duplicate key: rolled back
        }),
      ).rejects.toMatchObject({ code: '23505' });
      // A serialization failure at COMMIT is retried: only the attempt that committed is observed.
      let attempt = 0;
      faultPoints.arm('engine.tx.beforeCommit', () => {
        faultPoints.reset();
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      });
      await db.tx(async (client) => {
        attempt++;
        await client.query(`INSERT INTO ${table} VALUES ($1)`, [1 + attempt]);
        observeAfterCommit(client, [event(`attempt-${attempt}`)]);
      });
      await Promise.all(pending);
      expect(seen).toEqual([
        { ids: ['1', '2'], visible: 1 },
        { ids: ['attempt-2'], visible: 2 }, // rows 1 and 3: the retried attempt's row 2 was rolled back
      ]);
    } finally {
      off();
    }
  });
});

/**
 * New events are announced to other instances at most every BATON_EVENTS_NOTIFY_MS, and to this process's own listeners
 * after every commit (on a scratch database: no other suite's NOTIFYs are heard there).
 */
describe('EngineDatabase event notifications', () => {
  const SPACING_MS = 250;
  let scratch: ScratchDatabase;
  let db: EngineDatabase;
  let listener: PgListener;
  let remote: pg.Client;

  beforeAll(async () => {
    scratch = await openScratchDatabase('engine_db_notify');
    const server = new DatabaseServer(scratch.url);
    listener = new PgListener(server);
    db = new EngineDatabase(server, testConfig({ eventsNotifyMs: SPACING_MS }), listener);
    remote = new pg.Client({ connectionString: scratch.url });
    await remote.connect();
    await remote.query(`LISTEN ${EVENTS_CHANNEL}`);
  });

  afterAll(async () => {
    await remote.end();
    listener.onApplicationShutdown();
    await db.onApplicationShutdown();
    await scratch.drop();
  });

  it('wakes local listeners on every commit and other processes once per spacing, the last commit included', async () => {
    const heardRemotely: number[] = [];
    remote.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL) heardRemotely.push(Date.now());
    });
    let heardLocally = 0;
    const off = await listener.listen(EVENTS_CHANNEL, () => heardLocally++);
    await db.tx(async (client) => client.query('SELECT 1', [])); // connections open before the clock starts
    try {
      const started = Date.now();
      let lastCommit = 0;
      for (let i = 0; i < 30; i++) {
        await db.tx(async (client) => {
          await client.query('SELECT $1::int', [i]);
          notifyAfterCommit(client, EVENTS_CHANNEL);
        });
        // The own process heard this commit when tx returned: nothing waits for the database or the spacing (it may hear
        // its own NOTIFYs from the database as well: a wake-up more, harmless).
        expect(heardLocally).toBeGreaterThanOrEqual(i + 1);
        lastCommit = Date.now();
        await new Promise((r) => setTimeout(r, 10));
      }
      const burstMs = lastCommit - started;
      // The burst's tail is announced too: a notification arrives after the last commit, within about one spacing.
      const deadline = Date.now() + SPACING_MS * 4;
      while (Date.now() < deadline && !heardRemotely.some((at) => at >= lastCommit)) await new Promise((r) => setTimeout(r, 20));
      expect(heardRemotely.some((at) => at >= lastCommit)).toBe(true);
      expect(heardRemotely.length).toBeGreaterThanOrEqual(2);
      expect(heardRemotely.length).toBeLessThanOrEqual(Math.ceil(burstMs / SPACING_MS) + 2);
      expect(heardRemotely.length).toBeLessThan(30);
    } finally {
      off();
    }
  });
});
