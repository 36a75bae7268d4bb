/**
 * `queue:status` and `metrics` on a scratch database holding rows as the engine leaves them: ready (due), retrying
 * (in backoff), running and waiting-at-a-checkpoint steps of two agents, a pending approval and a dead letter.
 */
import type { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, insertDefinition, runCli, TEST_ADMIN_URL_ENV } from '#testing';
import { jest } from '@jest/globals';

jest.setTimeout(60_000);

describe('CLI queue:status and metrics (e2e)', () => {
  let url: string;
  let ds: DataSource;
  const cli = (...args: string[]) => runCli(args, { DATABASE_URL: url });

  beforeAll(async () => {
    url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `cliqueue_${process.pid}`);
    ds = createDataSource(url, 2);
    await ds.initialize();
    await migrateDatabase(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
  });

  it('prints an empty queue, then counts by agent with the oldest ready step', async () => {
    const empty = await cli('queue:status');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('Queue empty');

    const [org] = await ds.query(`INSERT INTO organizations (slug, name) VALUES ('q', 'q') RETURNING id`);
    const definitionId = await insertDefinition(ds, org.id, { slug: 'q', name: 'q', steps: [{ key: 'a', agent: 'echo', input: {} }] });
    const [run] = await ds.query(
      `INSERT INTO orchestration_runs (organization_id, definition_id, definition_slug, definition_version, status, input) VALUES ($1, $2, 'q', 1, 'running', '{}') RETURNING id`,
      [org.id, definitionId],
    );
    const step = (key: string, agent: string, status: string, next: string | null) =>
      ds.query(
        `INSERT INTO orchestration_steps (run_id, organization_id, step_key, position, agent_slug, status, next_attempt_at, lease_owner, lease_expires_at)
         VALUES ($1, $2, $3, 0, $4, $5::varchar, ${next ?? 'NULL'}, CASE WHEN $5::text = 'running' THEN 'w' END, CASE WHEN $5::text = 'running' THEN now() + interval '1 minute' END) RETURNING id`,
        [run.id, org.id, key, agent, status],
      );
    await step('a1', 'writer', 'ready', `now() - interval '125 seconds'`);
    await step('a2', 'writer', 'ready', `now() - interval '5 seconds'`);
    await step('a3', 'writer', 'ready', `now() + interval '1 hour'`);
    await step('b1', 'fetcher', 'running', null);
    const [gate] = await step('c1', 'fetcher', 'awaiting_approval', null);
    await ds.query(`INSERT INTO human_approvals (organization_id, run_id, step_id, step_key, prompt) VALUES ($1, $2, $3, 'c1', 'ok?')`, [org.id, run.id, gate.id]);

    const table = await cli('queue:status');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^writer\s+2\s+0\s+0\s+1\s+2m \d+s$/m);
    expect(table.stdout).toMatch(/^fetcher\s+0\s+1\s+1\s+0\s+-$/m);
    expect(table.stdout).toMatch(/^TOTAL\s+2\s+1\s+1\s+1\s+2m \d+s$/m);

    const json = JSON.parse((await cli('queue:status', '--json')).stdout);
    expect(json.agents).toEqual([
      { agent: 'fetcher', ready: 0, running: 1, waiting: 1, retrying: 0, oldestReadySeconds: null },
      { agent: 'writer', ready: 2, running: 0, waiting: 0, retrying: 1, oldestReadySeconds: expect.any(Number) },
    ]);
    expect(json.oldestReadySeconds).toBeGreaterThanOrEqual(125);

    const figures = JSON.parse((await cli('metrics', '--json')).stdout);
    expect(figures).toMatchObject({
      readySteps: 2,
      runningSteps: 1,
      retryingSteps: 1,
      runsInFlight: { pending: 0, running: 1, awaiting_approval: 0 },
      pendingApprovals: 1,
      webhookBacklog: 0,
      webhookDeadLetters: 0,
    });
    const lines = await cli('metrics');
    expect(lines.stdout).toMatch(/^steps ready\s+2 \(oldest 2m \d+s\)$/m);
    expect(lines.stdout).toMatch(/^pending approvals\s+1 \(oldest \d+s\)$/m);
  });
});
