import type { ServerResponse } from 'node:http';
import { dataPart, userMessage, type TaskRequestDto } from '#a2a';
import { AgentError, AgentRunnerRegistry } from '#agents';
import type { JsonValue } from '#core';
import { AgentHarness, expectA2aContract, startStandIn, type StandIn } from './agents/agent-harness.js';

const KEY = 'sk-test-context-0123456789';
const ANSWER = ['Revenue ', 'grew ', '12% ', 'in ', 'Q3, ', 'led ', 'by ', 'EMEA.'];

/** The context agent type against a real local stand-in for an OpenAI-compatible API (streaming SSE chunks). */
describe('context agents (e2e)', () => {
  const h = new AgentHarness();
  let llm: StandIn;
  let mode: 'stream' | 'json' | '400' | '503-once' = 'stream';
  let failures = 0;

  const stream = (res: ServerResponse, model: string) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const next = () => {
      if (i < ANSWER.length) {
        res.write(`data: ${JSON.stringify({ model, choices: [{ index: 0, delta: { content: ANSWER[i++] }, finish_reason: null }] })}\n\n`);
        setTimeout(next, 40);
        return;
      }
      res.write(`data: ${JSON.stringify({ model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.write(
        `data: ${JSON.stringify({ model, choices: [], usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 } })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    };
    next();
  };

  beforeAll(async () => {
    process.env.TEST_CONTEXT_LLM_KEY = KEY;
    llm = await startStandIn((req, body, res) => {
      if (req.url !== '/v1/chat/completions' || req.headers.authorization !== `Bearer ${KEY}`)
        return void res.writeHead(401).end('{"error":"bad key"}');
      const model = (JSON.parse(body) as { model: string }).model;
      if (mode === '400')
        return void res.writeHead(400, { 'content-type': 'application/json' }).end(`{"error":{"message":"bad request, your key ${KEY}"}}`);
      if (mode === '503-once' && failures++ === 0) return void res.writeHead(503, { 'retry-after': '1' }).end('overloaded');
      if (mode === 'json' || mode === '503-once')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({
              model,
              choices: [{ index: 0, message: { role: 'assistant', content: ANSWER.join('') }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 10, completion_tokens: 5 },
            }),
          );
      stream(res, model);
    });
    await h.open('context');
    const remote = { baseUrl: `${llm.url}/v1`, model: 'gpt-4o-mini', apiKeyEnv: 'TEST_CONTEXT_LLM_KEY', temperature: 0.1, maxTokens: 300 };
    await h.agent('writer', 'context', {
      ...remote,
      systemPrompt: 'You are terse.',
      userPrompt: 'Summarize for {{ input.audience }}: {{ input.text }}',
    });
    await h.agent('writer-json', 'context', { ...remote, stream: false });
    await h.agent('offline', 'context', { model: 'gpt-4o-mini', apiKeyEnv: 'TEST_CONTEXT_LLM_KEY' });
  });

  afterAll(async () => {
    await h.close();
    await llm?.close();
    delete process.env.TEST_CONTEXT_LLM_KEY;
  });

  beforeEach(() => {
    mode = 'stream';
    failures = 0;
    llm.requests.length = 0;
  });

  it('renders the prompts, streams throttled llm.delta progress, and records usage and cost on the step and in step.completed', async () => {
    const slug = await h.define({ steps: [{ key: 'write', agent: 'writer', input: { text: '{{ input.text }}', audience: 'the board' } }] });
    const runId = await h.start(slug, { text: 'Q3 numbers' });
    const run = await h.wait(runId, ['completed']);
    const sent = JSON.parse(llm.requests[0].body);
    expect(sent).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Summarize for the board: Q3 numbers' },
      ],
      temperature: 0.1,
      max_tokens: 300,
      stream: true,
      stream_options: { include_usage: true },
    });
    const step = run.steps?.[0] as unknown as { output: Record<string, unknown>; usage: Record<string, unknown> };
    expect(step.output).toEqual({ text: ANSWER.join(''), model: 'gpt-4o-mini', provider: 'openai', finishReason: 'stop' });
    // gpt-4o-mini: 0.15 USD / M input tokens, 0.60 USD / M output tokens
    const usage = { inputTokens: 1000, outputTokens: 200, totalTokens: 1200, costUsd: 0.00027, model: 'gpt-4o-mini', provider: 'openai' };
    expect(step.usage).toEqual(usage);
    const events = await h.events(runId);
    expect(events.find((e) => e.type === 'step.completed')?.payload).toMatchObject({ usage });
    const deltas = events
      .filter((e) => e.type === 'step.progress')
      .map((e) => e.payload.progress as { type: string; text: string; chars: number });
    expect(deltas.length).toBeGreaterThan(1); // the answer grows in more than one event...
    expect(deltas.length).toBeLessThan(ANSWER.length); // ...and faster chunks are coalesced (at most ~10 a second)
    expect(deltas.every((d) => d.type === 'llm.delta')).toBe(true);
    expect(deltas.map((d) => d.text).join('')).toBe(ANSWER.join(''));
    expect(deltas.at(-1)?.chars).toBe(ANSWER.join('').length);
    expect(JSON.stringify(events)).not.toContain(KEY);
  });

  it('retries a 503 (after its Retry-After) and fails a 400 at once without retrying, never showing the key', async () => {
    const retry = { maxAttempts: 3, backoff: 'fixed' as const, initialDelayMs: 10, maxDelayMs: 10, jitter: false };
    const slug = await h.define({ steps: [{ key: 'write', agent: 'writer-json', input: { text: 'x' }, retry }] });
    mode = '503-once';
    const retried = await h.wait(await h.start(slug), ['completed']);
    expect(retried.steps?.[0]).toMatchObject({ attempt: 2, output: { text: ANSWER.join('') } });
    const retryEvent = (await h.events(retried.id)).find((e) => e.type === 'step.retrying');
    expect(retryEvent?.payload).toMatchObject({ delayMs: 1000, error: { code: 'HTTP_ERROR_503', retryable: true, retryAfterMs: 1000 } });

    mode = '400';
    const failed = await h.wait(await h.start(slug), ['failed']);
    expect(failed.steps?.[0]).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'HTTP_ERROR_400', retryable: false } });
    expect(JSON.stringify(failed)).not.toContain(KEY);
    expect(JSON.stringify(await h.events(failed.id))).not.toContain(KEY);
  });

  it('answers offline with the local provider when no base URL is configured: KPI rows analysed, text summarised', async () => {
    const rows = [
      { metric: 'revenue', region: 'EMEA', value: 90, target: 100 },
      { metric: 'revenue', region: 'AMER', value: 130, target: 120 },
      { metric: 'nps', region: 'EMEA', value: 41, target: 40 },
      // lower is better: under its target is on target, over it a miss
      { metric: 'churn_rate', region: 'EMEA', value: 2.5, target: 3, higher_is_better: false },
      { metric: 'churn_rate', region: 'AMER', value: 3.5, target: 3, higher_is_better: false },
    ];
    const slug = await h.define({
      steps: [
        { key: 'analyze', agent: 'offline', input: { instruction: 'Compare each KPI with its target.', rows: '{{ input.rows }}' } },
        { key: 'summarize', agent: 'offline', dependsOn: ['analyze'], input: { text: '{{ steps.analyze.output.text }}' } },
      ],
    });
    const run = await h.wait(await h.start(slug, { rows }), ['completed']);
    expect(llm.requests).toHaveLength(0);
    const analyze = run.steps?.find((s) => s.key === 'analyze') as unknown as {
      output: Record<string, JsonValue>;
      usage: Record<string, unknown>;
    };
    expect(analyze.output).toMatchObject({
      provider: 'local',
      model: 'local-extractive',
      analysis: {
        rows: 5,
        onTarget: 3,
        missed: 2,
        misses: [
          { metric: 'revenue', region: 'EMEA', value: 90, target: 100, gap: -10, attainmentPct: 90 },
          { metric: 'churn_rate', region: 'AMER', value: 3.5, target: 3, gap: 0.5, attainmentPct: 85.7 },
        ],
        totals: [
          { metric: 'revenue', rows: 2, value: 220, target: 220, attainmentPct: 100 },
          { metric: 'nps', rows: 1, value: 41, target: 40, attainmentPct: 102.5 },
          { metric: 'churn_rate', rows: 2, value: 6, target: 6, attainmentPct: 100 },
        ],
      },
    });
    expect(analyze.output.text).toContain('KPI analysis of 5 rows: 3 on target, 2 missed.');
    expect(analyze.output.text).toContain('revenue in EMEA 90 vs 100 (90%)');
    expect(analyze.usage).toMatchObject({ provider: 'local', model: 'local', costUsd: 0, inputTokens: expect.any(Number) });
    expect(run.steps?.find((s) => s.key === 'summarize')?.output).toMatchObject({
      text: expect.stringContaining('2 missed'),
      provider: 'local',
    });
  });

  it('keeps the A2A contract: valid task request and response, usage in metadata; errors map to retryable or not', async () => {
    const runner = h.app.get(AgentRunnerRegistry).forType('context');
    const taskRequest: TaskRequestDto = {
      contextId: 'ctx-1',
      message: userMessage([dataPart({ text: 'One. Two.' })]),
      metadata: { runId: 'r' },
    };
    const context = (config: Record<string, unknown>) => h.runnerContext('writer', config);
    const response = await runner.execute(taskRequest, context({}));
    await expectA2aContract(taskRequest, response);
    expect(response).toMatchObject({ status: { state: 'TASK_STATE_COMPLETED' }, metadata: { usage: { provider: 'local' } } });

    const remote = { baseUrl: `${llm.url}/v1`, apiKeyEnv: 'TEST_CONTEXT_LLM_KEY', stream: false };
    mode = '400';
    await expect(runner.execute(taskRequest, context(remote))).rejects.toMatchObject({ code: 'HTTP_ERROR_400', retryable: false });
    mode = '503-once';
    await expect(runner.execute(taskRequest, context(remote))).rejects.toMatchObject({
      code: 'HTTP_ERROR_503',
      retryable: true,
      retryAfterMs: 1000,
    });
    const error = await runner
      .execute(taskRequest, context({ ...remote, provider: 'openai', apiKeyEnv: 'TEST_CONTEXT_UNSET_KEY' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: 'LLM_NOT_CONFIGURED', retryable: false });
    await expect(runner.execute(taskRequest, context({ userPrompt: '{{ nope.x }}' }))).rejects.toMatchObject({
      code: 'PROMPT_TEMPLATE',
      retryable: false,
    });
  });
});
