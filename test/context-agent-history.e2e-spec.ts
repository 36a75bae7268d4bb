/**
 * Context agents receive the conversation as chat messages: a run started in an A2A context (REST contextId here)
 * sends its LLM the context's earlier messages (other runs' questions and answers; not the run's own input, which is
 * the prompt), newest within the token bound, between the system prompt and the user prompt. In a group step, each
 * context participant also receives the turns so far (its own as assistant messages, the others' named). Against a
 * real local stand-in for an OpenAI-compatible API.
 */
import { jest } from '@jest/globals';
import { waitFor, waitForRun } from '#testing';
import { startStandIn, type StandIn } from './agents/agent-harness.js';
import { openScratchApp, type ScratchApp } from './support/scratch-app.js';

jest.setTimeout(60_000);

const KEY = 'sk-test-history-0123456789';
type Chat = { role: string; content: string }[];

describe('conversation history as chat messages (e2e)', () => {
  let s: ScratchApp;
  let llm: StandIn;
  const chats: { model: string; messages: Chat }[] = [];
  let replies = 0;

  beforeAll(async () => {
    process.env.TEST_HISTORY_LLM_KEY = KEY;
    llm = await startStandIn((_req, body, res) => {
      const { model, messages } = JSON.parse(body) as { model: string; messages: Chat };
      chats.push({ model, messages });
      const content = model === 'first' ? 'A durable engine.' : `reply ${++replies}`;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({
            model,
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 3 },
          }),
        );
    });
    s = await openScratchApp('chathist', { conversationSweepMs: 200 });
    const agent = (slug: string, config: Record<string, unknown>) =>
      s
        .http()
        .post('/agents')
        .set(s.auth('admin'))
        .send({
          slug,
          name: slug,
          type: 'context',
          config: {
            provider: 'openai',
            baseUrl: `${llm.url}/v1`,
            apiKeyEnv: 'TEST_HISTORY_LLM_KEY',
            stream: false,
            model: 'm',
            userPrompt: '{{ input.question }}',
            ...config,
          },
        })
        .expect(201);
    await agent('first-llm', { model: 'first', systemPrompt: 'Be brief.' });
    await agent('chat', { systemPrompt: 'Be brief.' });
    await agent('chat-short', { historyTokens: 8 });
    await agent('chat-deaf', { history: false });
    await agent('writer', { model: 'writer', userPrompt: 'Turn {{ input.group.turn }} on {{ input.question }}' });
    await agent('critic', { model: 'critic', userPrompt: 'Turn {{ input.group.turn }} on {{ input.question }}' });
  });

  afterAll(async () => {
    await s?.close();
    await llm?.close();
    delete process.env.TEST_HISTORY_LLM_KEY;
  });

  const ask = async (agent: string, question: string, contextId?: string) => {
    const slug = await s.define({
      steps: [{ key: 'reply', agent, input: { question } }],
      output: { text: '{{ steps.reply.output.text }}' },
    });
    const runId = (
      await s
        .http()
        .post('/orchestrations/runs')
        .set(s.auth())
        .send({ definition: slug, input: { question }, ...(contextId ? { contextId } : {}) })
        .expect(201)
    ).body.id as string;
    await waitForRun(s.app, s.org.users.operator.token, runId, ['completed']);
    return chats.at(-1)?.messages as Chat;
  };

  it("sends a run the context's earlier messages, bounded by tokens, never its own input; none outside a context or when turned off", async () => {
    const firstExchange = async (contextId: string) => {
      expect(await ask('first-llm', 'What is Baton?', contextId)).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is Baton?' },
      ]);
      // The first run's question and answer join the context (the answer through the conversation job).
      await waitFor(
        async () =>
          ((await s.http().get(`/conversations/${contextId}`).set(s.auth()).expect(200)).body.history.items as unknown[]).length === 2,
        10_000,
        'the first exchange in the history',
      );
    };
    const contextId = `chat-${Date.now().toString(36)}`;
    await firstExchange(contextId);
    expect(await ask('chat', 'Does it survive restarts?', contextId)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: '{"question":"What is Baton?"}' },
      { role: 'assistant', content: 'A durable engine.' },
      { role: 'user', content: 'Does it survive restarts?' },
    ]);
    const other = `${contextId}-b`;
    await firstExchange(other);
    // 8 tokens hold "A durable engine." (5) but not the question before it (8 more): the newest messages win.
    expect(await ask('chat-short', 'And scale?', other)).toEqual([
      { role: 'assistant', content: 'A durable engine.' },
      { role: 'user', content: 'And scale?' },
    ]);
    expect(await ask('chat-deaf', 'Hello?', other)).toEqual([{ role: 'user', content: 'Hello?' }]);
    expect(await ask('chat', 'Alone?')).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Alone?' },
    ]);
  });

  it('gives each context participant of a group the turns so far: its own as assistant, the others named', async () => {
    const slug = await s.define({
      steps: [{ key: 'talk', type: 'group', participants: ['writer', 'critic'], maxTurns: 3, input: { question: '{{ input.question }}' } }],
    });
    chats.length = 0;
    const runId = (
      await s
        .http()
        .post('/orchestrations/runs')
        .set(s.auth())
        .send({ definition: slug, input: { question: 'naming' } })
        .expect(201)
    ).body.id as string;
    const run = await waitForRun(s.app, s.org.users.operator.token, runId, ['completed']);
    const transcript = (run.steps?.[0].output as { transcript: { speaker: string; text: string }[] }).transcript;
    expect(transcript.map((t) => t.speaker)).toEqual(['writer', 'critic', 'writer']);
    const [first, second, third] = chats.map((c) => c.messages);
    expect(first).toEqual([{ role: 'user', content: 'Turn 1 on naming' }]);
    expect(second).toEqual([
      { role: 'user', content: `writer: ${transcript[0].text}` },
      { role: 'user', content: 'Turn 2 on naming' },
    ]);
    expect(third).toEqual([
      { role: 'assistant', content: transcript[0].text },
      { role: 'user', content: `critic: ${transcript[1].text}` },
      { role: 'user', content: 'Turn 3 on naming' },
    ]);
  });
});
