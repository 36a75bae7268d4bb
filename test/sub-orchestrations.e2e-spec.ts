import type { INestApplication } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { DefinitionSpec } from '#core';
import { waitFor, waitForRun, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

interface ChildRow {
  id: string;
  status: string;
  parent_attempt: number;
  item_index: number | null;
  created_at: Date;
  completed_at: Date | null;
}

describe('sub-orchestrations (e2e)', () => {
  let s: ScratchApp;
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;

  beforeAll(async () => {
    // A database of its own: counting child runs and their overlap needs no other suite's worker on these steps.
    s = await openScratchApp('suborch', { workerConcurrency: 32, maxOrchestrationDepth: 3 }, { poolSize: 4 });
    ({ app, org } = s);
    ds = s.scratch.dataSource;
  });

  afterAll(() => s?.close());

  const http = () => s.http();
  const auth = (token = org.users.operator.token) => ({ Authorization: `Bearer ${token}` });
  const define = (spec: Omit<DefinitionSpec, 'slug' | 'name'>) => s.define(spec);
  const start = async (definition: string, input: unknown = {}) =>
    (await http().post('/orchestrations/runs').set(auth()).send({ definition, input }).expect(201)).body.id as string;
  const finished = (id: string, statuses = ['completed', 'failed', 'cancelled'], timeoutMs = 30_000) =>
    waitForRun(app, org.users.operator.token, id, statuses, timeoutMs);
  const children = (runId: string): Promise<ChildRow[]> =>
    ds.query(`SELECT id, status, parent_attempt, item_index, created_at, completed_at FROM orchestration_runs WHERE parent_run_id = $1 ORDER BY parent_attempt, item_index`, [
      runId,
    ]);
  const eventTypes = async (runId: string) =>
    ((await http().get(`/orchestrations/runs/${runId}/events`).set(auth()).expect(200)).body.items as { type: string; stepKey: string | null }[]).map(
      (e) => `${e.type}${e.stepKey ? `:${e.stepKey}` : ''}`,
    );

  it('runs a child run and completes the waiting parent step with its output, linked both ways', async () => {
    const child = await define({
      input: { type: 'object', required: ['n'], properties: { n: { type: 'number' } } },
      steps: [{ key: 'double', agent: 'echo', input: { n: '{{ input.n }}', doubled: true } }],
    });
    const parent = await define({
      steps: [
        { key: 'prepare', agent: 'echo', input: { n: '{{ input.n }}' } },
        { key: 'sub', type: 'orchestration', orchestration: child, dependsOn: ['prepare'], input: { n: '{{ steps.prepare.output.n }}' } },
        { key: 'after', agent: 'echo', dependsOn: ['sub'], input: { got: '{{ steps.sub.output }}' } },
      ],
    });
    const runId = await start(parent, { n: 7 });
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ after: { got: { double: { n: 7, doubled: true } } } });
    const [kid] = await children(runId);
    expect(kid.status).toBe('completed');
    expect(kid.parent_attempt).toBe(1);
    const detail = (await http().get(`/orchestrations/runs/${runId}`).set(auth()).expect(200)).body;
    expect(detail.children).toEqual([expect.objectContaining({ id: kid.id, definition: child, status: 'completed', stepKey: 'sub', index: null, percent: 100 })]);
    expect(detail.steps.find((s: { key: string }) => s.key === 'sub').children).toEqual({ total: 1, started: 1, finished: 1 });
    const childBody = (await http().get(`/orchestrations/runs/${kid.id}`).set(auth()).expect(200)).body;
    expect(childBody).toMatchObject({ parentRunId: runId, depth: 1, input: { n: 7 } });
    const listed = (await http().get(`/orchestrations/runs?parentRunId=${runId}`).set(auth()).expect(200)).body.items;
    expect(listed.map((r: { id: string }) => r.id)).toEqual([kid.id]);
    const types = await eventTypes(runId);
    expect(types).toEqual(expect.arrayContaining(['step.waiting:sub', 'step.child_started:sub', 'step.child_finished:sub', 'step.completed:sub']));
    expect(types.indexOf('step.waiting:sub')).toBeLessThan(types.indexOf('step.completed:sub'));
  });

  it('fans out 20 children with forEach, never more than 5 in flight, and keeps item order in the output', async () => {
    const child = await define({ steps: [{ key: 'nap', agent: 'sleep', input: { ms: 120, item: '{{ input.item }}' } }, { key: 'out', agent: 'echo', dependsOn: ['nap'], input: { v: '{{ input.item }}', i: '{{ input.index }}' } }] });
    const parent = await define({
      steps: [{ key: 'each', type: 'orchestration', orchestration: child, forEach: '{{ input.items }}', concurrency: 5, input: { item: '{{ item }}', index: '{{ index }}' } }],
    });
    const items = Array.from({ length: 20 }, (_, i) => `item-${i}`);
    const runId = await start(parent, { items });
    const run = await finished(runId, undefined, 60_000);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ each: items.map((v, i) => ({ out: { v, i } })) });
    const kids = await children(runId);
    expect(kids).toHaveLength(20);
    expect(kids.map((k) => k.item_index)).toEqual([...Array(20).keys()]);
    // At every child's creation, at most 5 children (itself included) had been created and not yet finished.
    for (const kid of kids) {
      const t = kid.created_at.getTime();
      const live = kids.filter((k) => k.created_at.getTime() <= t && (k.completed_at === null || k.completed_at.getTime() > t));
      expect(live.length).toBeLessThanOrEqual(5);
    }
    expect(Math.max(...kids.map((kid) => kids.filter((k) => k.created_at <= kid.created_at && (k.completed_at as Date) > kid.created_at).length))).toBe(5);
  });

  it('an empty forEach completes the step with [] and starts no child', async () => {
    const child = await define({ steps: [{ key: 'a', agent: 'echo', input: {} }] });
    const parent = await define({ steps: [{ key: 'each', type: 'orchestration', orchestration: child, forEach: '{{ input.items }}', input: { x: '{{ item }}' } }] });
    const runId = await start(parent, { items: [] });
    expect((await finished(runId)).output).toEqual({ each: [] });
    expect(await children(runId)).toHaveLength(0);
  });

  const failingChild = () =>
    define({
      steps: [{ key: 'try', agent: 'flaky', input: { failTimes: '{{ input.failTimes }}' }, retry: { maxAttempts: 1 } }],
    });

  it('fail-fast: one failed child fails the step (its siblings are cancelled), and a retry of the step starts new children', async () => {
    const child = await failingChild();
    const parent = await define({
      steps: [
        {
          key: 'each',
          type: 'orchestration',
          orchestration: child,
          forEach: '{{ input.items }}',
          concurrency: 2,
          input: { failTimes: '{{ item }}' },
          retry: { maxAttempts: 2, initialDelayMs: 10, backoff: 'fixed' },
        },
      ],
    });
    const runId = await start(parent, { items: [0, 9, 0, 0, 0, 0] });
    const run = await finished(runId);
    expect(run.status).toBe('failed');
    const step = run.steps?.find((s) => s.key === 'each');
    expect(step?.status).toBe('failed');
    expect(step?.attempt).toBe(2);
    expect(step?.error).toMatchObject({ code: 'CHILD_FAILED', details: { index: 1 } });
    const kids = await children(runId);
    // Each attempt started children until item 1 failed; none is left running, and no attempt ran all six.
    expect(kids.every((k) => ['completed', 'failed', 'cancelled'].includes(k.status))).toBe(true);
    for (const attempt of [1, 2]) {
      const of = kids.filter((k) => k.parent_attempt === attempt);
      expect(of.find((k) => k.item_index === 1)?.status).toBe('failed');
      expect(of.length).toBeLessThan(6);
    }
  });

  it('failFast: false collects every item with its status, output or error', async () => {
    const child = await failingChild();
    const parent = await define({
      steps: [{ key: 'each', type: 'orchestration', orchestration: child, forEach: '{{ input.items }}', failFast: false, input: { failTimes: '{{ item }}' } }],
    });
    const runId = await start(parent, { items: [0, 5, 0] });
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    const output = (run.output as { each: { index: number; status: string; output: unknown; error: { step?: string } | null }[] }).each;
    expect(output.map((o) => [o.index, o.status])).toEqual([
      [0, 'completed'],
      [1, 'failed'],
      [2, 'completed'],
    ]);
    expect(output[0].output).toEqual({ try: expect.objectContaining({ attempt: 1 }) });
    expect(output[1].error).toMatchObject({ step: 'try' });
  });

  it('cancelling a parent cancels its descendants; cancelling a child cancels its parent step and run', async () => {
    const leaf = await define({ steps: [{ key: 'nap', agent: 'sleep', input: { ms: 60_000 } }] });
    const middle = await define({ steps: [{ key: 'down', type: 'orchestration', orchestration: leaf, input: {} }] });
    const top = await define({ steps: [{ key: 'down', type: 'orchestration', orchestration: middle, input: {} }] });

    const down = await start(top);
    const [mid] = await waitFor(async () => ((await children(down)).length === 1 ? children(down) : null), 10_000, 'middle child');
    const [bottom] = await waitFor(async () => ((await children(mid.id)).length === 1 ? children(mid.id) : null), 10_000, 'leaf child');
    await waitFor(async () => (await ds.query(`SELECT 1 FROM orchestration_steps WHERE run_id = $1 AND status = 'running'`, [bottom.id])).length === 1, 10_000, 'leaf running');
    await http().post(`/orchestrations/runs/${down}/cancel`).set(auth()).send({ reason: 'enough' }).expect(200);
    expect((await finished(down)).status).toBe('cancelled');
    expect((await finished(mid.id)).status).toBe('cancelled');
    expect((await finished(bottom.id)).status).toBe('cancelled');

    const up = await start(top);
    const [mid2] = await waitFor(async () => ((await children(up)).length === 1 ? children(up) : null), 10_000, 'middle child');
    const [leaf2] = await waitFor(async () => ((await children(mid2.id)).length === 1 ? children(mid2.id) : null), 10_000, 'leaf child');
    await http().post(`/orchestrations/runs/${leaf2.id}/cancel`).set(auth()).send({ reason: 'from below' }).expect(200);
    const topRun = await finished(up);
    expect(topRun.status).toBe('cancelled');
    expect(topRun.steps?.find((s) => s.key === 'down')?.status).toBe('cancelled');
    expect((await finished(mid2.id)).status).toBe('cancelled');
    expect(await eventTypes(mid2.id)).toEqual(expect.arrayContaining(['step.child_finished:down', 'step.cancelled:down', 'run.cancelled']));
  });

  it('nests three levels and passes each output up', async () => {
    const c = await define({ steps: [{ key: 'leaf', agent: 'echo', input: { v: '{{ input.v }}' } }] });
    const b = await define({ steps: [{ key: 'mid', type: 'orchestration', orchestration: c, input: { v: '{{ input.v }}' } }] });
    const a = await define({ steps: [{ key: 'top', type: 'orchestration', orchestration: b, input: { v: '{{ input.v }}' } }] });
    const run = await finished(await start(a, { v: 'deep' }));
    expect(run.output).toEqual({ top: { mid: { leaf: { v: 'deep' } } } });
  });

  it('a step that would nest deeper than the limit fails with DEPTH_EXCEEDED', async () => {
    const d = await define({ steps: [{ key: 'x', agent: 'echo', input: {} }] });
    const c = await define({ steps: [{ key: 'x', type: 'orchestration', orchestration: d, input: {} }] });
    const b = await define({ steps: [{ key: 'x', type: 'orchestration', orchestration: c, input: {} }] });
    const a = await define({ steps: [{ key: 'x', type: 'orchestration', orchestration: b, input: {} }] });
    // the limit is 3 here: a (0) -> b (1) -> c (2) -> d (3) fits; one more level would not
    expect((await finished(await start(a))).status).toBe('completed');
    const e = await define({ steps: [{ key: 'x', type: 'orchestration', orchestration: a, input: {} }] });
    const deeper = await finished(await start(e));
    expect(deeper.status).toBe('failed');
    const [kidA] = await children(deeper.id);
    const chain = async (id: string): Promise<{ steps?: { error: unknown }[]; status: string }> => {
      const [next] = await children(id);
      return next ? chain(next.id) : finished(id);
    };
    expect((await chain(kidA.id)).steps?.[0].error).toMatchObject({ code: 'DEPTH_EXCEEDED' });
  });

  it('a child paused at a checkpoint shows on the parent status; its approval resumes the child, then the parent', async () => {
    const child = await define({
      steps: [
        { key: 'draft', agent: 'echo', input: { text: 'draft for {{ input.region }}' }, approval: { prompt: 'Approve {{ input.region }}?' } },
        { key: 'final', agent: 'echo', dependsOn: ['draft'], input: { text: '{{ steps.draft.output.text }}' } },
      ],
    });
    const parent = await define({ steps: [{ key: 'regions', type: 'orchestration', orchestration: child, forEach: '{{ input.regions }}', input: { region: '{{ item }}' } }] });
    const runId = await start(parent, { regions: ['emea', 'apac'] });
    const status = await waitFor(async () => {
      const body = (await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200)).body;
      return body.pendingApprovals.length === 2 ? body : null;
    }, 15_000, 'two pending approvals on the parent');
    expect(status.pendingApprovals).toEqual([
      expect.objectContaining({ stepKey: 'draft', depth: 1, prompt: expect.stringMatching(/^Approve /) }),
      expect.objectContaining({ stepKey: 'draft', depth: 1 }),
    ]);
    for (const approval of status.pendingApprovals as { id: string }[])
      await http().post(`/orchestrations/approvals/${approval.id}/decision`).set(auth(org.users.approver.token)).send({ decision: 'continue' }).expect(200);
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ regions: [{ final: { text: 'draft for emea' } }, { final: { text: 'draft for apac' } }] });
    expect((await http().get(`/orchestrations/runs/${runId}/status`).set(auth()).expect(200)).body.pendingApprovals).toEqual([]);
  });

  it('refuses a definition whose sub-orchestrations lead back to it, naming the cycle', async () => {
    const admin = auth(org.users.admin.token);
    const a = `cyc-a-${Date.now().toString(36)}`;
    const b = `cyc-b-${Date.now().toString(36)}`;
    const leafSpec = { slug: a, name: 'A', steps: [{ key: 'x', agent: 'echo', input: {} }] };
    await http().post('/orchestrations/definitions').set(admin).send(leafSpec).expect(201);
    await http().post('/orchestrations/definitions').set(admin).send({ slug: b, name: 'B', steps: [{ key: 'x', type: 'orchestration', orchestration: a, input: {} }] }).expect(201);
    const res = await http()
      .put(`/orchestrations/definitions/${a}`)
      .set(admin)
      .send({ ...leafSpec, steps: [{ key: 'x', type: 'orchestration', orchestration: b, input: {} }] })
      .expect(400);
    expect(res.body.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '$.steps[0].orchestration', code: 'orchestration_cycle', message: `sub-orchestration cycle: ${a} -> ${b} -> ${a}` })]),
    );
  });

  it('validates forEach steps: item outside a forEach input, forEach on an agent step', async () => {
    const res = await http()
      .post('/orchestrations/definitions/validate')
      .set(auth(org.users.admin.token))
      .send({
        slug: 'bad-foreach',
        name: 'Bad',
        steps: [
          { key: 'a', agent: 'echo', forEach: '{{ input.items }}', input: { x: '{{ item }}' } },
          { key: 'b', agent: 'echo', input: { i: '{{ index }}' } },
        ],
      })
      .expect(200);
    expect(res.body.valid).toBe(false);
    expect(res.body.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '$.steps[0].forEach', message: 'forEach only applies to orchestration steps' }),
        expect.objectContaining({ path: '$.steps[1].input.i', code: 'template_root' }),
      ]),
    );
  });
});
