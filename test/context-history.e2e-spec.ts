/**
 * `{{ context.history }}` and `{{ context.id }}`: a step of a run started in a conversation (REST `contextId`, or an A2A
 * message's) receives the conversation's recent history, oldest first, as its input; a child run sees its parent's
 * conversation; a run outside one reads null and [].
 */
import type { INestApplication } from '@nestjs/common';
import { waitFor, waitForRun, type TestOrganization } from '#testing';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

interface Entry {
  seq: number;
  role: string;
  text: string;
  parts: { data?: unknown; text?: string }[];
}

describe('conversation history in step templates (e2e)', () => {
  let s: ScratchApp;
  let app: INestApplication;
  let org: TestOrganization;

  beforeAll(async () => {
    s = await openScratchApp('ctxhist', { conversationSweepMs: 200 });
    ({ app, org } = s);
  });

  afterAll(() => s?.close());

  const start = async (definition: string, input: unknown, contextId?: string) =>
    (await s.http().post('/orchestrations/runs').set(s.auth()).send({ definition, input, ...(contextId ? { contextId } : {}) }).expect(201)).body.id as string;
  const historyLength = async (contextId: string) =>
    ((await s.http().get(`/conversations/${contextId}`).set(s.auth()).expect(200)).body.history.items as unknown[]).length;

  it("gives a step its run's conversation: earlier turns oldest first, and the context id; a child run sees its parent's", async () => {
    const child = await s.define({ steps: [{ key: 'recall', agent: 'echo', input: { id: '{{ context.id }}', turns: '{{ context.history }}' } }] });
    const slug = await s.define({
      steps: [
        { key: 'remember', agent: 'echo', input: { id: '{{ context.id }}', seen: '{{ context.history }}', name: '{{ input.name }}' } },
        { key: 'nested', type: 'orchestration', orchestration: child, dependsOn: ['remember'], input: {} },
      ],
    });
    const contextId = `ctx-${Date.now().toString(36)}`;
    const first = await start(slug, { name: 'first' }, contextId);
    await waitForRun(app, org.users.operator.token, first, ['completed']);
    // The first run's message and its answer join the history (the answer through the conversation job).
    await waitFor(async () => (await historyLength(contextId)) >= 2, 10_000, 'the first turn in the history');

    const second = await start(slug, { name: 'second' }, contextId);
    const run = await waitForRun(app, org.users.operator.token, second, ['completed']);
    const input = run.steps?.find((st) => st.key === 'remember')?.input as { id: string; seen: Entry[]; name: string };
    expect(input.id).toBe(contextId);
    expect(input.name).toBe('second');
    expect(input.seen.map((e) => e.role).slice(0, 2)).toEqual(['user', 'agent']);
    expect(input.seen[0].parts[0].data).toEqual({ name: 'first' });
    expect(input.seen.map((e) => e.seq)).toEqual([...input.seen.map((e) => e.seq)].sort((a, b) => a - b));
    expect(input.seen.every((e) => typeof e.text === 'string')).toBe(true);
    const [kid] = (await s.http().get(`/orchestrations/runs?parentRunId=${second}`).set(s.auth()).expect(200)).body.items as { id: string }[];
    const recall = (await waitForRun(app, org.users.operator.token, kid.id, ['completed'])).steps?.[0].input as { id: string; turns: Entry[] };
    expect(recall.id).toBe(contextId);
    expect(recall.turns.length).toBeGreaterThanOrEqual(2);

    const alone = await waitForRun(app, org.users.operator.token, await start(slug, { name: 'alone' }), ['completed']);
    expect(alone.steps?.find((st) => st.key === 'remember')?.input).toEqual({ id: null, seen: [], name: 'alone' });
  });

  it('refuses a context field that does not exist, at save', async () => {
    const res = await s
      .http()
      .post('/orchestrations/definitions/validate')
      .set(s.auth('admin'))
      .send({ slug: 'bad-context', name: 'Bad', steps: [{ key: 'a', agent: 'echo', input: { x: '{{ context.secrets }}' } }] })
      .expect(200);
    expect(res.body.problems).toEqual([expect.objectContaining({ path: '$.steps[0].input.x', code: 'template_path', message: expect.stringMatching(/context\.id, context\.history/) })]);
  });
});
