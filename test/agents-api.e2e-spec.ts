import { dataPart, userMessage, type TaskRequestDto } from '#a2a';
import { AgentRunnerRegistry, ApiAgentRunner } from '#agents';
import { testConfig } from '#testing';
import { BASE_AGENTS } from '../seeds/base-agents.js';
import { AgentHarness, expectA2aContract, startStandIn, type StandIn } from './agents/agent-harness.js';

const KEY = 'n8n-secret-key-abcdef012345';

/** The api agent type against a real local stand-in for an n8n webhook. */
describe('api agents (e2e)', () => {
  const h = new AgentHarness();
  let n8n: StandIn;
  const hits = new Map<string, number>();
  const retry = { maxAttempts: 3, backoff: 'fixed' as const, initialDelayMs: 10, maxDelayMs: 10, jitter: false };

  beforeAll(async () => {
    n8n = await startStandIn((req, body, res) => {
      const path = (req.url ?? '').split('?')[0];
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
      if (path === '/webhook/unavailable' && n === 1) return json(503, { message: 'n8n is restarting' });
      if (path === '/webhook/limited' && n === 1) return json(429, { message: 'slow down' }, { 'retry-after': '1' });
      if (path === '/webhook/bad') return json(400, { message: `invalid payload (key ${req.headers['x-n8n-api-key']})` });
      // n8n answers with what the workflow produced; this one also echoes the key back, which must not leak
      json(200, {
        result: { drafts: ['Post A', 'Post B'], echoedKey: req.headers['x-n8n-api-key'], received: JSON.parse(body || 'null') },
      });
    });
    process.env.TEST_N8N_BASE_URL = n8n.url;
    process.env.TEST_N8N_KEY = KEY;
    await h.open('api');
    const common = {
      baseUrlEnv: 'TEST_N8N_BASE_URL',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-n8n-api-key': '{{ secrets.TEST_N8N_KEY }}' },
      secrets: ['TEST_N8N_KEY'],
      timeoutMs: 5000,
    };
    await h.agent('n8n', 'api', {
      ...common,
      url: '/webhook/{{ input.workflow }}?channel={{ input.channel }}',
      body: { brief: '{{ input.brief }}', runId: '{{ run.id }}' },
      response: { pointer: '/result' },
    });
    await h.agent('n8n-offline', 'api', {
      ...common,
      baseUrlEnv: 'TEST_N8N_UNSET_BASE_URL',
      url: '/webhook/x',
      body: { brief: '{{ input.brief }}' },
    });
    const seeded = BASE_AGENTS.find((a) => a.slug === 'marketing-swarm');
    await h.agent('marketing-swarm', 'api', seeded?.config as Record<string, unknown>);
  });

  afterAll(async () => {
    await h.close();
    await n8n?.close();
    delete process.env.TEST_N8N_BASE_URL;
    delete process.env.TEST_N8N_KEY;
  });

  beforeEach(() => {
    hits.clear();
    n8n.requests.length = 0;
  });

  const run = async (input: Record<string, string>, status: string[]) => {
    const slug = await h.define({ steps: [{ key: 'post', agent: 'n8n', input: { ...input }, retry }] });
    return h.wait(await h.start(slug), status);
  };

  it('renders URL (input values encoded), secret header and body templates, maps the answer, and keeps the key out of events and step rows', async () => {
    const done = await run({ workflow: 'marketing-swarm', channel: 'x&admin=1', brief: 'Launch week' }, ['completed']);
    expect(n8n.requests).toHaveLength(1);
    const sent = n8n.requests[0];
    expect(sent).toMatchObject({ method: 'POST', path: '/webhook/marketing-swarm?channel=x%26admin%3D1' });
    expect(sent.headers['x-n8n-api-key']).toBe(KEY);
    expect(JSON.parse(sent.body)).toEqual({ brief: 'Launch week', runId: done.id });
    expect(done.steps?.[0].output).toEqual({
      drafts: ['Post A', 'Post B'],
      echoedKey: '[redacted]',
      received: { brief: 'Launch week', runId: done.id },
    });
    const rows = await h.ds.query(`SELECT input, output, error FROM orchestration_steps WHERE run_id = $1`, [done.id]);
    expect(JSON.stringify(rows)).not.toContain(KEY);
    expect(JSON.stringify(await h.events(done.id))).not.toContain(KEY);
  });

  it('retries a 503, waits out a 429 Retry-After, and does not retry a 400', async () => {
    const unavailable = await run({ workflow: 'unavailable', channel: 'a', brief: 'b' }, ['completed']);
    expect(unavailable.steps?.[0].attempt).toBe(2);
    expect((await h.events(unavailable.id)).find((e) => e.type === 'step.retrying')?.payload).toMatchObject({
      error: { code: 'HTTP_ERROR_503', retryable: true },
    });

    n8n.requests.length = 0;
    const limited = await run({ workflow: 'limited', channel: 'a', brief: 'b' }, ['completed']);
    expect(limited.steps?.[0].attempt).toBe(2);
    expect((await h.events(limited.id)).find((e) => e.type === 'step.retrying')?.payload).toMatchObject({
      delayMs: 1000,
      error: { code: 'HTTP_ERROR_429', retryable: true, retryAfterMs: 1000 },
    });
    expect(n8n.requests[1].at - n8n.requests[0].at).toBeGreaterThanOrEqual(950);

    n8n.requests.length = 0;
    const bad = await run({ workflow: 'bad', channel: 'a', brief: 'b' }, ['failed']);
    expect(n8n.requests).toHaveLength(1);
    expect(bad.steps?.[0]).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'HTTP_ERROR_400', retryable: false } });
    expect(JSON.stringify(bad)).toContain('[redacted]');
    expect(JSON.stringify(bad)).not.toContain(KEY);
    expect(JSON.stringify(await h.events(bad.id))).not.toContain(KEY);
  });

  it('answers a dry run describing the request when its base URL variable is unset (the seeded marketing-swarm offline)', async () => {
    const slug = await h.define({
      steps: [
        { key: 'offline', agent: 'n8n-offline', input: { brief: 'Spring sale' } },
        { key: 'swarm', agent: 'marketing-swarm', input: { product: 'Baton', channels: ['x', 'linkedin'] } },
      ],
    });
    const done = await h.wait(await h.start(slug), ['completed']);
    expect(n8n.requests).toHaveLength(0);
    expect(done.steps?.find((s) => s.key === 'offline')?.output).toEqual({
      dryRun: true,
      reason: 'TEST_N8N_UNSET_BASE_URL is not set: nothing was sent',
      request: {
        method: 'POST',
        url: '${TEST_N8N_UNSET_BASE_URL}/webhook/x',
        headers: { 'content-type': 'application/json', 'x-n8n-api-key': '[secret TEST_N8N_KEY]' },
        body: { brief: 'Spring sale' },
      },
    });
    expect(done.steps?.find((s) => s.key === 'swarm')?.output).toMatchObject({
      dryRun: true,
      request: {
        url: '${N8N_BASE_URL}/webhook/marketing-swarm',
        body: { brief: { product: 'Baton', channels: ['x', 'linkedin'] }, runId: done.id },
      },
    });
  });

  it('keeps the A2A contract, and maps errors to retryable or not (refused private address, unlisted secret)', async () => {
    const runner = h.app.get(AgentRunnerRegistry).forType('api');
    const taskRequest: TaskRequestDto = {
      contextId: 'ctx',
      message: userMessage([dataPart({ workflow: 'marketing-swarm', channel: 'c', brief: 'b' })]),
    };
    const context = (config: Record<string, unknown>) => h.runnerContext('n8n', config);
    const config = {
      baseUrlEnv: 'TEST_N8N_BASE_URL',
      url: '/webhook/{{ input.workflow }}',
      response: { template: { status: '{{ input.status }}', first: '{{ input.body.result.drafts[0] }}' } },
    };
    const response = await runner.execute(taskRequest, context(config));
    await expectA2aContract(taskRequest, response);
    expect(response.artifacts[0].parts[0].data).toEqual({ status: 200, first: 'Post A' });
    await expect(runner.execute(taskRequest, context({ ...config, url: '/webhook/bad' }))).rejects.toMatchObject({
      code: 'HTTP_ERROR_400',
      retryable: false,
    });
    await expect(
      runner.execute(taskRequest, context({ url: 'http://127.0.0.1:1/x', headers: { k: '{{ secrets.HOME }}' } })),
    ).rejects.toMatchObject({
      code: 'REQUEST_TEMPLATE',
      retryable: false,
    });
    const guarded = new ApiAgentRunner(new AgentRunnerRegistry(), { ...testConfig(), agentAllowPrivateNetworks: false });
    await expect(guarded.execute(taskRequest, context(config))).rejects.toMatchObject({
      code: 'ADDRESS_REFUSED',
      retryable: false,
      message: expect.stringMatching(/127\.0\.0\.1 is not a public address/),
    });
    expect(n8n.requests.filter((r) => r.path === '/webhook/marketing-swarm')).toHaveLength(1);
  });
});
