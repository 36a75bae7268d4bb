/**
 * Every statement the engine sends has an index plan (docs/architecture.md: engine connections run with
 * `enable_seqscan=off` and generic plans, so a statement the planner cannot serve from an index scans the whole
 * table on every call, and gets slower as the table grows). The suite drives the engine through the API over the
 * shapes it handles (fan-out, chain, retry, failure, manual retry and skip, approval, cancel, sub-orchestration with
 * forEach), records the text of every statement sent on the engine's and worker's connections, and asks PostgreSQL
 * for each one's generic plan under the engine's settings: none may scan a table sequentially.
 *
 * It would have caught lockRunsForApply's `id = ANY($1) OR id IN (SELECT ...)`, which has no index plan: a scan of
 * every run on each result batch that might end a run, the soak's throughput falling as the runs table grew.
 */
import pg from 'pg';
import { waitFor, waitForRun } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

const ENGINE_CONNECTIONS = new Set(['baton-engine', 'baton-worker']);
const EXPLAINABLE = /^\s*(WITH|SELECT|INSERT|UPDATE|DELETE)\b/i;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function seqScans(node: PlanNode, found: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan') found.push(node['Relation Name'] ?? '?');
  for (const child of node.Plans ?? []) seqScans(child, found);
  return found;
}

describe('engine statement plans (PostgreSQL)', () => {
  const seen = new Set<string>();
  const original = pg.Client.prototype.query;
  let t: ScratchApp;

  beforeAll(async () => {
    // Records what the engine sends; the statements themselves go on unchanged.
    pg.Client.prototype.query = function (this: pg.Client & { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
      const config = args[0] as string | { text?: string } | undefined;
      const text = typeof config === 'string' ? config : config?.text;
      if (text && ENGINE_CONNECTIONS.has(this.connectionParameters?.application_name ?? '')) seen.add(text);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    t = await openScratchApp('plans', { workerConcurrency: 8 });
  });

  afterAll(async () => {
    pg.Client.prototype.query = original;
    await t?.close();
  });

  const start = async (definition: string, input: unknown = {}) =>
    (await t.http().post('/orchestrations/runs').set(t.auth()).send({ definition, input }).expect(201)).body.id as string;
  const until = (runId: string, statuses: string[]) => waitForRun(t.app, t.org.users.operator.token, runId, statuses);

  it('sends no statement without an index plan, over every shape of run', async () => {
    const fanout = await t.define({
      steps: [
        { key: 'a', agent: 'echo' },
        ...['b', 'c', 'd'].map((key) => ({ key, agent: 'echo', dependsOn: ['a'], input: { from: '{{ steps.a.output }}' } })),
        { key: 'e', agent: 'echo', dependsOn: ['b', 'c', 'd'] },
      ],
    });
    const retried = await t.define({
      steps: [
        { key: 'f', agent: 'flaky', input: { failTimes: 1 }, retry: { maxAttempts: 2, initialDelayMs: 10, jitter: false } },
        { key: 'g', agent: 'echo', dependsOn: ['f'] },
      ],
    });
    const failing = await t.define({
      steps: [
        { key: 'x', agent: 'fail' },
        { key: 'y', agent: 'echo', dependsOn: ['x'] },
      ],
    });
    const approval = await t.define({
      steps: [
        { key: 'draft', agent: 'echo', approval: { prompt: 'ok?' } },
        { key: 'publish', agent: 'echo', dependsOn: ['draft'] },
      ],
    });
    const slow = await t.define({ steps: [{ key: 'nap', agent: 'sleep', input: { ms: 30_000 } }] });
    const child = await t.define({ steps: [{ key: 'one', agent: 'echo', input: { item: '{{ input.item }}' } }] });
    const parent = await t.define({
      steps: [{ key: 'each', type: 'orchestration', orchestration: child, forEach: '{{ input.items }}', input: { item: '{{ item }}' } }],
    });
    const nested = await t.define({ steps: [{ key: 'sub', type: 'orchestration', orchestration: slow }] });

    await until(await start(fanout), ['completed']);
    await until(await start(retried), ['completed']);
    await until(await start(parent, { items: [1, 2, 3] }), ['completed']);

    const failed = await start(failing);
    await until(failed, ['failed']);
    await t.http().post(`/orchestrations/runs/${failed}/steps/x/skip`).set(t.auth()).send({ output: {} }).expect(200);
    await until(failed, ['completed']);
    const retriedByHand = await start(failing);
    await until(retriedByHand, ['failed']);
    await t.http().post(`/orchestrations/runs/${retriedByHand}/steps/x/retry`).set(t.auth()).send({}).expect(200);
    await until(retriedByHand, ['failed']);

    const paused = await start(approval);
    await until(paused, ['awaiting_approval']);
    const pending = (await t.http().get(`/orchestrations/approvals?status=pending&run=${paused}`).set(t.auth('approver')).expect(200)).body
      .items;
    expect(pending).toHaveLength(1);
    await t
      .http()
      .post(`/orchestrations/approvals/${pending[0].id}/decision`)
      .set(t.auth('approver'))
      .send({ decision: 'continue' })
      .expect(200);
    await until(paused, ['completed']);

    for (const definition of [slow, nested]) {
      const runId = await start(definition);
      // Its sleeping step (or its child's) is running, so the cancel reaches a step in flight.
      await waitFor(
        async () =>
          (
            await t.scratch.dataSource.query(
              `SELECT 1 FROM orchestration_steps s JOIN orchestration_runs r ON r.id = s.run_id
                WHERE (r.id = $1 OR r.parent_run_id = $1) AND s.agent_slug = 'sleep' AND s.status = 'running'`,
              [runId],
            )
          ).length > 0,
        10_000,
        'a sleeping step running',
      );
      await t
        .http()
        .post(`/orchestrations/runs/${runId}/cancel`)
        .set(t.auth())
        .send({})
        .expect((r) => expect(r.status).toBeLessThan(300));
      await until(runId, ['cancelled']);
    }

    const statements = [...seen].filter((text) => EXPLAINABLE.test(text));
    expect(statements.length).toBeGreaterThan(20); // the recorder saw the engine at work

    const client = new pg.Client({ connectionString: t.scratch.url, options: '-c enable_seqscan=off' });
    await client.connect();
    const scans: string[] = [];
    try {
      for (const text of statements) {
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`);
        for (const relation of seqScans(rows[0]['QUERY PLAN'][0].Plan))
          scans.push(`${relation}: ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
      }
    } finally {
      await client.end();
    }
    expect(scans).toEqual([]);
  }, 90_000);
});
