/**
 * Group steps through the public API: scripted participants are api agents served by a real local HTTP server (each
 * answers per turn from a script), the LLM selector too. Each strategy, throttling of consecutive turns, termination
 * by condition and by stop word, the approval after the group (continue, and retry from the first turn), group.turn
 * events over GET .../events, SSE and A2A, and 4xx answers for bad group specs.
 */
import { jest } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { protocolDataPart } from '#a2a';
import { waitFor, waitForRun, openSse } from '#testing';
import { EXAMPLE_GROUP_SPEC } from '../apps/api/src/definitions/definition.dto.js';
import { a2aClient, collect, dataParts, sendRequest, userMessage } from './a2a-client.js';
import { startStandIn, type StandIn } from './agents/agent-harness.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

jest.setTimeout(90_000);

interface TurnInput {
  topic?: string;
  group: {
    turn: number;
    speaker: string;
    participants: string[];
    transcript: { turn: number; speaker: string; text: string }[];
    candidates?: string[];
  };
}
type Answer = { json?: unknown; status?: number; delayMs?: number };
type Script = (agent: string, input: TurnInput) => Answer;

interface Turn {
  turn: number;
  speaker: string;
  agent: string;
  text: string;
  output: Record<string, unknown>;
  selectedBy: string;
}
interface GroupOutput {
  transcript: Turn[];
  finalMessage: string;
  finalSpeaker: string;
  turns: number;
  stopReason: string;
}

describe('group steps (e2e)', () => {
  let s: ScratchApp;
  let peer: StandIn;
  let script: Script = () => ({ json: { text: 'ok' } });
  const calls: { agent: string; input: TurnInput }[] = [];

  const answer = (req: IncomingMessage, body: string, res: ServerResponse) => {
    const agent = (req.url ?? '').split('/').pop() as string;
    const input = JSON.parse(body || '{}') as TurnInput;
    calls.push({ agent, input });
    const { json, status = 200, delayMs = 0 } = script(agent, input);
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json ?? { error: 'scripted failure' }));
    }, delayMs);
  };

  const agent = (slug: string, capabilities: string[] = []) =>
    s
      .http()
      .post('/agents')
      .set(s.auth('admin'))
      .send({
        slug,
        name: slug,
        type: 'api',
        capabilities,
        config: { url: `${peer.url}/agents/${slug}`, method: 'POST', response: { pointer: '' } },
      })
      .expect(201);

  let defined = 0;
  const define = async (group: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const slug = `grp-${++defined}-${Date.now().toString(36)}`;
    await s
      .http()
      .post('/orchestrations/definitions')
      .set(s.auth('admin'))
      .send({
        slug,
        name: slug,
        steps: [{ key: 'talk', type: 'group', input: { topic: '{{ input.topic }}' }, retry: { maxAttempts: 1 }, ...group }],
        ...extra,
      })
      .expect(201);
    return slug;
  };
  const start = async (definition: string) =>
    (
      await s
        .http()
        .post('/orchestrations/runs')
        .set(s.auth())
        .send({ definition, input: { topic: 'tabs or spaces' } })
        .expect(201)
    ).body.id as string;
  const finish = async (runId: string, statuses = ['completed']) => waitForRun(s.app, s.org.users.operator.token, runId, statuses, 30_000);
  const outputOf = async (runId: string) => (await finish(runId)).steps?.find((st) => st.key === 'talk')?.output as GroupOutput;
  const events = async (runId: string) =>
    (await s.http().get(`/orchestrations/runs/${runId}/events?limit=500`).set(s.auth()).expect(200)).body.items as {
      id: string;
      type: string;
      stepKey: string | null;
      payload: Record<string, unknown>;
    }[];

  beforeAll(async () => {
    peer = await startStandIn(answer);
    s = await openScratchApp('group', {}, { listen: true });
    for (const slug of ['alice', 'bob', 'carol', 'picker', 'summarizer']) await agent(slug);
    await agent('dave', ['review']);
  });

  afterAll(async () => {
    await s?.close();
    await peer?.close();
  });

  beforeEach(() => {
    calls.length = 0;
    script = (who, input) => ({ json: { text: `${who} says ${input.group?.turn}` } });
  });

  it('round-robin: participants speak in order, each seeing the transcript so far; one group.turn per turn, streamed', async () => {
    const slug = await define({ participants: ['alice', 'bob', { capability: 'review', name: 'reviewer' }], maxTurns: 5 });
    const runId = await start(slug);
    const sse = openSse(`${s.base}/orchestrations/runs/${runId}/stream`, s.org.users.operator.token);
    try {
      const output = await outputOf(runId);
      expect(output.transcript.map((t) => [t.turn, t.speaker, t.agent, t.selectedBy])).toEqual([
        [1, 'alice', 'alice', 'round-robin'],
        [2, 'bob', 'bob', 'round-robin'],
        [3, 'reviewer', 'dave', 'round-robin'],
        [4, 'alice', 'alice', 'round-robin'],
        [5, 'bob', 'bob', 'round-robin'],
      ]);
      expect(output).toMatchObject({ finalMessage: 'bob says 5', finalSpeaker: 'bob', turns: 5, stopReason: 'max_turns' });
      // Each participant got the step input and the turns before its own.
      expect(calls.map((c) => c.input.topic)).toEqual(Array(5).fill('tabs or spaces'));
      expect(calls[3].input.group).toMatchObject({ turn: 4, speaker: 'alice', participants: ['alice', 'bob', 'reviewer'] });
      expect(calls[3].input.group.transcript.map((t) => t.text)).toEqual(['alice says 1', 'bob says 2', 'dave says 3']);
      const turns = (await events(runId)).filter((e) => e.type === 'group.turn');
      expect(turns.map((e) => [e.stepKey, e.payload.turn, e.payload.speaker, e.payload.text])).toEqual(
        output.transcript.map((t) => ['talk', t.turn, t.speaker, t.text]),
      );
      await sse.waitFor((m) => m.some((x) => x.type === 'run.completed'), 10_000, 'the run to end on the stream');
      expect(sse.messages.filter((m) => m.type === 'group.turn').map((m) => m.data.payload)).toEqual(turns.map((e) => e.payload));
      const [{ n }] = await s.scratch.dataSource.query(`SELECT count(*)::int AS n FROM group_turns WHERE run_id = $1`, [runId]);
      expect(n).toBe(5);
    } finally {
      sse.close();
    }
  });

  it('priority with throttling: the highest priority speaks until maxConsecutiveTurns, then sits out one turn', async () => {
    const slug = await define({
      participants: [{ agent: 'alice', priority: 2 }, { agent: 'bob', priority: 1 }, 'carol'],
      strategy: 'priority',
      maxConsecutiveTurns: 2,
      maxTurns: 7,
    });
    const output = await outputOf(await start(slug));
    expect(output.transcript.map((t) => t.speaker)).toEqual(['alice', 'alice', 'bob', 'alice', 'alice', 'bob', 'alice']);
    expect(output.transcript.every((t) => t.selectedBy === 'priority')).toBe(true);
  });

  it('llm: the selector names the speaker; when it fails, is slow or names nobody, round-robin takes over', async () => {
    const picks: Record<number, Answer> = {
      1: { json: { speaker: 'carol' } },
      2: { json: 'Alice' },
      3: { status: 500 },
      4: { json: { speaker: 'bob' }, delayMs: 1500 },
      5: { json: { speaker: 'nobody' } },
      6: { json: { speaker: 'carol' } },
    };
    script = (who, input) => (who === 'picker' ? picks[input.group.turn] : { json: { text: `${who} says ${input.group.turn}` } });
    const slug = await define({
      participants: ['alice', 'bob', 'carol'],
      strategy: 'llm',
      selector: { agent: 'picker', timeoutMs: 400 },
      maxTurns: 6,
      maxConsecutiveTurns: 1,
    });
    const runId = await start(slug);
    const output = await outputOf(runId);
    expect(output.transcript.map((t) => [t.speaker, t.selectedBy])).toEqual([
      ['carol', 'llm'],
      ['alice', 'llm'],
      ['bob', 'fallback'],
      ['carol', 'fallback'],
      ['alice', 'fallback'],
      ['carol', 'llm'],
    ]);
    // The selector was offered only who may speak (maxConsecutiveTurns 1: never the last speaker).
    const offered = calls.filter((c) => c.agent === 'picker').map((c) => c.input.group.candidates);
    expect(offered[1]).toEqual(['alice', 'bob']);
    const reasons = (await events(runId)).filter((e) => e.type === 'group.turn').map((e) => e.payload.fallbackReason ?? null);
    expect(reasons[0]).toBeNull();
    expect(reasons[2]).toEqual(expect.stringContaining('500'));
    expect(reasons[3]).toEqual(expect.stringContaining('TIMEOUT'));
    expect(reasons[4]).toEqual(expect.stringContaining('not one of'));
  });

  it('ends when the termination condition holds, or when a participant says the stop word', async () => {
    script = (who, input) => ({ json: { text: `${who} at ${input.group.turn}`, approved: who === 'bob' && input.group.turn >= 4 } });
    const byCondition = await outputOf(
      await start(
        await define({ participants: ['alice', 'bob'], maxTurns: 10, termination: { condition: '{{ group.last.output.approved }}' } }),
      ),
    );
    expect(byCondition).toMatchObject({ turns: 4, stopReason: 'condition', finalSpeaker: 'bob', finalMessage: 'bob at 4' });

    script = (who, input) => ({ json: { text: input.group.turn === 3 ? 'Agreed, TERMINATE' : `${who} goes on (not TERMINATED)` } });
    const byWord = await outputOf(
      await start(await define({ participants: ['alice', 'bob'], maxTurns: 10, termination: { stopWord: 'TERMINATE' } })),
    );
    expect(byWord).toMatchObject({ turns: 3, stopReason: 'stop_word', finalSpeaker: 'alice', finalMessage: 'Agreed, TERMINATE' });
  });

  it('a failing participant fails the attempt; the retry resumes at the failed turn without repeating the finished ones', async () => {
    let failed = false;
    script = (who, input) => {
      if (input.group.turn === 3 && !failed) {
        failed = true;
        return { status: 503 };
      }
      return { json: { text: `${who} says ${input.group.turn}` } };
    };
    const slug = await define({
      participants: ['alice', 'bob'],
      maxTurns: 4,
      retry: { maxAttempts: 2, initialDelayMs: 50, jitter: false },
    });
    const output = await outputOf(await start(slug));
    expect(output.transcript.map((t) => t.turn)).toEqual([1, 2, 3, 4]);
    expect(calls.map((c) => c.input.group.turn)).toEqual([1, 2, 3, 3, 4]);
  });

  it('pauses for approval after the group; retry talks again from the first turn, continue completes', async () => {
    const slug = await define({ participants: ['alice', 'bob'], maxTurns: 2, approval: { prompt: 'Publish the debate?' } });
    const runId = await start(slug);
    await finish(runId, ['awaiting_approval']);
    const pending = async () =>
      (await s.http().get(`/orchestrations/approvals?status=pending&run=${runId}`).set(s.auth('approver')).expect(200)).body.items as {
        id: string;
      }[];
    let [approval] = await pending();
    await s
      .http()
      .post(`/orchestrations/approvals/${approval.id}/decision`)
      .set(s.auth('approver'))
      .send({ decision: 'retry', modifications: { topic: 'vim or emacs' } })
      .expect(200);
    await waitFor(async () => (await pending()).length === 1 && (await pending())[0].id !== approval.id, 20_000, 'the second checkpoint');
    [approval] = await pending();
    await s
      .http()
      .post(`/orchestrations/approvals/${approval.id}/decision`)
      .set(s.auth('approver'))
      .send({ decision: 'continue' })
      .expect(200);
    const output = await outputOf(runId);
    expect(output.transcript.map((t) => t.turn)).toEqual([1, 2]);
    expect(calls.map((c) => [c.input.group.turn, c.input.topic])).toEqual([
      [1, 'tabs or spaces'],
      [2, 'tabs or spaces'],
      [1, 'vim or emacs'],
      [2, 'vim or emacs'],
    ]);
    const types = (await events(runId)).map((e) => e.type);
    expect(types.filter((t) => t === 'group.turn')).toHaveLength(4);
    expect(types.filter((t) => t === 'checkpoint.requested')).toHaveLength(2);
  });

  it('A2A: a task of the definition reports each turn as a WORKING update saying who spoke', async () => {
    const slug = await define({ participants: ['alice', 'bob'], maxTurns: 2 });
    const client = await a2aClient(s.base, slug, s.org.users.operator.token);
    const stream = await collect(client.sendMessageStream(sendRequest(userMessage([protocolDataPart({ topic: 'tea' })]))));
    const texts = stream
      .flatMap((e) => (e.payload?.$case === 'statusUpdate' ? (e.payload.value.status?.message?.parts ?? []) : []))
      .flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : []))
      .filter((t) => /^(alice|bob):/.test(t));
    expect(texts).toEqual(['alice: alice says 1', 'bob: bob says 2']);
    const turns = stream.flatMap((e) => (e.payload?.$case === 'statusUpdate' ? dataParts(e.payload.value.status?.message) : []));
    expect(turns).toContainEqual({
      type: 'orchestration.group_turn',
      stepKey: 'talk',
      turn: 2,
      speaker: 'bob',
      agent: 'bob',
      text: 'bob says 2',
    });
  });

  it('answers 400 with paths for bad group specs, through validate and create (and the Swagger example is valid)', async () => {
    const example = await s.http().post('/orchestrations/definitions/validate').set(s.auth('admin')).send(EXAMPLE_GROUP_SPEC).expect(200);
    expect(example.body).toMatchObject({ valid: true, problems: [] });
    const bad = {
      slug: 'bad-group',
      name: 'bad',
      steps: [{ key: 'talk', type: 'group', participants: ['alice', 'ghost'], strategy: 'llm', maxConsecutiveTurns: 0 }],
    };
    const validated = await s.http().post('/orchestrations/definitions/validate').set(s.auth('admin')).send(bad).expect(200);
    expect(validated.body.valid).toBe(false);
    const created = await s.http().post('/orchestrations/definitions').set(s.auth('admin')).send(bad).expect(400);
    expect(created.body.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '$.steps[0].maxConsecutiveTurns' }),
        expect.objectContaining({ path: '$.steps[0].participants[1]', message: 'unknown agent "ghost"' }),
        expect.objectContaining({
          path: '$.steps[0].selector',
          message: 'strategy llm needs a selector agent that names the next speaker',
        }),
      ]),
    );
  });
});
