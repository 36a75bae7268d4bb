/**
 * The connection budget of docs/deployment.md holds under load: a BATON_ROLE=all process never has more backends open
 * than its pools' sizes plus the LISTEN connection, however many runs, reads and streams it serves at once.
 */
import pg from 'pg';
import { databaseName } from '#persistence';
import { openSse, waitFor } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const POOLS = { dbPoolSize: 3, enginePoolSize: 3, workerPoolSize: 2 };
const CEILING = POOLS.dbPoolSize + POOLS.enginePoolSize + POOLS.workerPoolSize + 1;

describe('connection budget (e2e)', () => {
  let s: ScratchApp;
  let probe: pg.Client;

  beforeAll(async () => {
    s = await openScratchApp('budget', POOLS, { listen: true });
    probe = new pg.Client({ connectionString: s.scratch.url, application_name: 'budget-probe' });
    await probe.connect();
  });

  afterAll(async () => {
    await probe?.end();
    await s?.close();
  });

  /** Backends of this database that are Baton's (the test's data source is closed by then; the probe is not Baton's). */
  const open = async (): Promise<number> => {
    const { rows } = await probe.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'baton'`,
      [databaseName(s.scratch.url)],
    );
    return rows[0].n;
  };

  it(`stays within ${CEILING} connections (pools + listener) under a burst of runs, reads and streams`, async () => {
    const slug = await s.define({
      steps: [
        { key: 'start', agent: 'echo' },
        ...Array.from({ length: 12 }, (_, i) => ({ key: `s${i}`, agent: 'sleep', dependsOn: ['start'], input: { ms: 50 } })),
      ],
    });
    await s.scratch.dataSource.destroy(); // from here on, every Baton connection to this database is the app's
    const streams = Array.from({ length: 5 }, () => openSse(`${s.base}/orchestrations/stream`, s.org.users.viewer.token));
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await open());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const runs = await Promise.all(
        Array.from({ length: 30 }, async () => (await s.http().post('/orchestrations/runs').set(s.auth()).send({ definition: slug }).expect(201)).body.id as string),
      );
      await Promise.all(Array.from({ length: 40 }, () => s.http().get('/orchestrations/runs?limit=50').set(s.auth('viewer')).expect(200)));
      await waitFor(
        async () => {
          const res = await s.http().get(`/orchestrations/runs?limit=100`).set(s.auth('viewer')).expect(200);
          const mine = (res.body.items as { id: string; status: string }[]).filter((r) => runs.includes(r.id));
          return mine.length === runs.length && mine.every((r) => r.status === 'completed');
        },
        60_000,
        'the burst of runs to complete',
      );
    } finally {
      sampling = false;
      await sampler;
      for (const stream of streams) stream.close();
    }
    expect(peak).toBeGreaterThan(1); // the sampler saw the process at work
    expect(peak).toBeLessThanOrEqual(CEILING);
  });
});
