/**
 * Function agents: the sandbox escape suite (each attempt fails with a clear error while the server lives on), the
 * A2A contract and error classes, and the image generators against a local stand-in API, saving assets and a
 * deliverable readable through the API.
 */
import type { INestApplication } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { dataPart, TaskRequestDto, TaskResponseDto, taskOutput, userMessage } from '#a2a';
import { AgentError, AgentRunnerRegistry, FunctionAgentRunner, sandboxNodeFlags, type AgentExecutionContext } from '#agents';
import type { JsonValue } from '#core';
import { AgentsRepository, ArtifactsRepository } from '#persistence';
import { createTestOrganization, insertDefinition, openTestDataSource, testConfig, waitForRun, type TestOrganization } from '#testing';
import { createApp } from '../apps/api/src/bootstrap.js';
import { BASE_AGENTS } from '../seeds/base-agents.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

describe('function agents: sandbox', () => {
  let app: INestApplication;
  let ds: DataSource;
  let org: TestOrganization;
  let runner: FunctionAgentRunner;
  let stub: Server;
  let stubUrl: string;
  const received: { url: string; headers: Record<string, unknown>; body: string }[] = [];
  let slugCount = 0;
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-assets-'));

  beforeAll(async () => {
    // The private-network policy on: the escape suite's fetch to 127.0.0.1 must be refused.
    app = await createApp(testConfig({ pollIntervalMs: 200, agentAllowPrivateNetworks: false, dataDir }));
    await app.init();
    ds = await openTestDataSource();
    org = await createTestOrganization(app, ds, 'func');
    runner = app.get(FunctionAgentRunner);
    stub = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body });
        res.setHeader('content-type', 'application/json');
        if (req.url?.includes(':predict'))
          res.end(JSON.stringify({ predictions: [{ bytesBase64Encoded: PNG.toString('base64'), mimeType: 'image/png' }] }));
        else res.end(JSON.stringify({ data: [{ b64_json: PNG.toString('base64') }] }));
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    stub?.close();
    await ds?.destroy();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const agent = async (functionCode: string, config: Record<string, unknown> = {}) => {
    const slug = `fn-${++slugCount}-${Date.now().toString(36)}`;
    await app
      .get(AgentsRepository)
      .insertIfAbsent(org.id, { slug, name: slug, type: 'function', capabilities: ['test'], config: config as never, functionCode });
    return { slug, config };
  };
  const context = (slug: string, config: Record<string, unknown>, signal = new AbortController().signal): AgentExecutionContext => ({
    organizationId: org.id,
    agentSlug: slug,
    config,
    attempt: 1,
    signal,
    onProgress: () => undefined,
  });
  const run = async (
    code: string,
    input: JsonValue = {},
    config: Record<string, unknown> = { timeoutMs: 20000, memoryMb: 32 },
    using = runner,
  ) => {
    const { slug } = await agent(code, config);
    return taskOutput(await using.execute({ message: userMessage([dataPart(input)]) } as TaskRequestDto, context(slug, config)));
  };
  const refusal = async (code: string, config?: Record<string, unknown>): Promise<AgentError> => {
    const error = await run(code, {}, config).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  };

  it('runs the code with its input, the allowed require list and a filtered env', async () => {
    process.env.BATON_TEST_GRANTED = 'granted';
    process.env.BATON_TEST_SECRET = 'not-for-you';
    const output = await run(
      `const { createHash } = require('crypto'); const { URL } = require('node:url');
       return { sum: input.a + input.b, hash: createHash('sha256').update('x').digest('hex').slice(0, 8), host: new URL('https://a.example/x').host,
                env: process.env, ctxEnv: ctx.env, keys: Object.keys(process.env) };`,
      { a: 2, b: 3 },
      { timeoutMs: 20000, memoryMb: 32, allowedEnv: ['BATON_TEST_GRANTED', 'BATON_TEST_UNSET'] },
    );
    expect(output).toEqual({
      sum: 5,
      hash: '2d711642',
      host: 'a.example',
      env: { BATON_TEST_GRANTED: 'granted' },
      ctxEnv: { BATON_TEST_GRANTED: 'granted' },
      keys: ['BATON_TEST_GRANTED'],
    });
  });

  describe('escape suite', () => {
    it.each([
      ['read a file', `return require('fs').readFileSync('/etc/passwd', 'utf8')`, /require\('fs'\) is not allowed/],
      ['write a file', `require('node:fs').writeFileSync('/tmp/baton-escape', 'x'); return 1`, /require\('node:fs'\) is not allowed/],
      ['spawn a process', `return require('child_process').execSync('id').toString()`, /require\('child_process'\) is not allowed/],
      [
        'start a worker',
        `const { Worker } = require('worker_threads'); return new Worker('1', { eval: true })`,
        /require\('worker_threads'\) is not allowed/,
      ],
      ['import a module', `return await import('node:fs')`, /dynamic import callback/],
      [
        'reach process via this.constructor.constructor',
        `return this.constructor.constructor('return process')().pid`,
        /Cannot read properties of undefined/,
      ],
      [
        'reach process via an object constructor chain',
        `return ({}).constructor.constructor('return process')().pid`,
        /Code generation from strings disallowed/,
      ],
      [
        'reach process via a host object (ctx)',
        `return ctx.constructor.constructor('return process')().pid`,
        /Code generation from strings disallowed/,
      ],
      [
        'reach process via a host function',
        `return require('crypto').randomUUID.constructor('return process')().pid`,
        /Code generation from strings disallowed/,
      ],
      ['reach the host through a Buffer', `return Buffer.constructor('return process')().pid`, /Code generation from strings disallowed/],
      ['eval', `return eval('1 + 1')`, /Code generation from strings disallowed/],
      [
        'reach globalThis.process',
        `return globalThis.process.pid ?? globalThis.process.mainModule.require('fs')`,
        /Cannot read properties of undefined/,
      ],
      [
        'read env not granted',
        `if (process.env.BATON_TEST_SECRET === undefined && ctx.env.BATON_TEST_SECRET === undefined) throw new Error('env not granted'); return 'leak'`,
        /env not granted/,
      ],
      [
        'require outside the list',
        `return require('http')`,
        /require\('http'\) is not allowed in a function agent \(allowed: crypto, url\)/,
      ],
    ])('%s: refused', async (_name, code, message) => {
      const error = await refusal(code);
      expect(error.message).toMatch(message);
    });

    it('stops an infinite loop at the wall-clock timeout (retryable TIMEOUT)', async () => {
      const started = Date.now();
      const error = await refusal('while (true) {}', { timeoutMs: 700, memoryMb: 32 });
      expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true, message: expect.stringMatching(/700 ms/) });
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('stops a memory bomb at the limit, on the V8 heap and outside it (MEMORY_LIMIT)', async () => {
      expect(
        await refusal('const a = []; for (;;) a.push(new Array(1e5).fill(Math.random()));', { timeoutMs: 20000, memoryMb: 32 }),
      ).toMatchObject({
        code: 'MEMORY_LIMIT',
        retryable: false,
      });
      expect(await refusal('const a = []; for (;;) a.push(Buffer.alloc(1e7, 1));', { timeoutMs: 20000, memoryMb: 32 })).toMatchObject({
        code: 'MEMORY_LIMIT',
      });
    });

    it('refuses fetch to a private address (BATON_AGENT_ALLOW_PRIVATE_NETWORKS off) and to the metadata service', async () => {
      for (const url of [stubUrl, 'http://169.254.169.254/latest/meta-data/', 'http://localhost:5432/']) {
        const error = await refusal(`await fetch(${JSON.stringify(url)}); return 'reached'`);
        expect([url, error.code, error.retryable, error.message]).toEqual([
          url,
          'OUTBOUND_REFUSED',
          false,
          expect.stringMatching(/fetch failed: outbound request refused/),
        ]);
      }
      expect(received).toEqual([]);
    });

    it('is killed on abort', async () => {
      const { slug, config } = await agent('await new Promise(() => undefined)', { timeoutMs: 30000, memoryMb: 32 });
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 300);
      const error = await runner
        .execute({ message: userMessage([dataPart({})]) } as TaskRequestDto, context(slug, config, abort.signal))
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ABORTED' });
    });

    it('confines the process itself: no file reads or writes, no child processes, no workers, even from host code', () => {
      for (const code of [
        `require('fs').readFileSync('/etc/hostname')`,
        `require('fs').writeFileSync('/tmp/baton-escape-test', 'x')`,
        `require('child_process').spawnSync('true')`,
        `new (require('worker_threads').Worker)('1', { eval: true })`,
        `Function('return 1')()`,
      ]) {
        const result = spawnSync(process.execPath, [...sandboxNodeFlags(32), '-e', code], { encoding: 'utf8', env: {} });
        expect([code, result.status, result.stderr]).toEqual([
          code,
          1,
          expect.stringMatching(/ERR_ACCESS_DENIED|Code generation from strings disallowed/),
        ]);
      }
    });

    it('leaves the server alive and serving after every attempt', async () => {
      await request(app.getHttpServer()).get('/health').expect(200);
      expect(await run('return 42')).toBe(42);
    });
  });

  it('answers A2A task DTOs and maps errors: syntax errors are for good, timeouts and crashes retryable', async () => {
    expect(app.get(AgentRunnerRegistry).forType('function')).toBe(runner);
    const { slug, config } = await agent('return { doubled: input.n * 2 }', { timeoutMs: 20000, memoryMb: 32 });
    const task = plainToInstance(TaskRequestDto, { message: userMessage([dataPart({ n: 21 })]) });
    expect(await validate(task)).toEqual([]);
    const response = await runner.execute(task, context(slug, config));
    expect(await validate(plainToInstance(TaskResponseDto, response), { forbidUnknownValues: false })).toEqual([]);
    expect(response).toMatchObject({ status: { state: 'TASK_STATE_COMPLETED' }, artifacts: [{ parts: [{ data: { doubled: 42 } }] }] });
    expect(await refusal('return {')).toMatchObject({ code: 'FUNCTION_SYNTAX_ERROR', retryable: false });
    expect(await refusal("throw new Error('upstream busy')")).toMatchObject({ code: 'FUNCTION_ERROR', retryable: true });
    expect(await refusal("throw Object.assign(new Error('bad input'), { code: 'BAD_INPUT', retryable: false })")).toMatchObject({
      code: 'BAD_INPUT',
      retryable: false,
    });
    expect(await refusal('return 1', { memoryMb: 1 })).toMatchObject({ code: 'INVALID_AGENT_CONFIG', retryable: false });
  });

  describe('image generators', () => {
    const seeded = (slug: string) => BASE_AGENTS.find((a) => a.slug === slug)!;

    it('answer a dry run without a key', async () => {
      const openai = seeded('image-generator-openai');
      delete process.env.OPENAI_API_KEY;
      const output = await run(openai.functionCode!, { prompt: 'a lighthouse' }, openai.config);
      expect(output).toMatchObject({ provider: 'openai', dryRun: true, images: [] });
    });

    it('call the API at their configured base URL and save the images as assets and a deliverable, readable through the API', async () => {
      // This runner allows private networks: the stand-in API listens on 127.0.0.1.
      const local = new FunctionAgentRunner(app.get(AgentRunnerRegistry), app.get(AgentsRepository), app.get(ArtifactsRepository), {
        agentAllowPrivateNetworks: true,
      });
      app.get(AgentRunnerRegistry).register(local);
      try {
        Object.assign(process.env, {
          OPENAI_API_KEY: 'sk-test',
          OPENAI_BASE_URL: `${stubUrl}/v1`,
          GOOGLE_API_KEY: 'g-test',
          GOOGLE_API_BASE_URL: `${stubUrl}/v1beta`,
        });
        for (const slug of ['image-generator-openai', 'image-generator-google'])
          await app.get(AgentsRepository).insertIfAbsent(org.id, seeded(slug));
        const def = `images-${Date.now().toString(36)}`;
        await insertDefinition(ds, org.id, {
          slug: def,
          name: def,
          steps: [
            { key: 'openai', agent: 'image-generator-openai', input: { prompt: '{{ input.prompt }}' } },
            { key: 'google', agent: 'image-generator-google', input: { prompt: '{{ input.prompt }}' } },
          ],
        });
        const auth = { Authorization: `Bearer ${org.users.viewer.token}` };
        const started = await request(app.getHttpServer())
          .post('/orchestrations/runs')
          .set('Authorization', `Bearer ${org.users.operator.token}`)
          .send({ definition: def, input: { prompt: 'a lighthouse at dawn' } })
          .expect(201);
        const done = await waitForRun(app, org.users.operator.token, started.body.id, ['completed', 'failed'], 30_000);
        expect(done.status).toBe('completed');
        expect(done.steps?.find((s) => s.key === 'openai')?.output).toMatchObject({
          dryRun: false,
          images: [{ mediaType: 'image/png', sizeBytes: PNG.length }],
        });
        expect(received.map((r) => r.url).sort()).toEqual(['/v1/images/generations', '/v1beta/models/imagen-3.0-generate-002:predict']);
        expect(received.find((r) => r.url.includes('generations'))?.headers.authorization).toBe('Bearer sk-test');

        const list = await request(app.getHttpServer()).get(`/orchestrations/runs/${started.body.id}/deliverables`).set(auth).expect(200);
        expect(list.body.items).toHaveLength(2);
        expect(list.body.assets).toHaveLength(2);
        expect(list.body.items[0]).toMatchObject({ kind: 'image-set', runId: started.body.id, assetIds: [expect.any(String)] });
        const asset = list.body.assets[0];
        await request(app.getHttpServer())
          .get(`/assets/${asset.id}`)
          .set(auth)
          .expect(200)
          .expect((r) => expect(r.body).toMatchObject({ mediaType: 'image/png', stepKey: expect.any(String) }));
        const content = await request(app.getHttpServer())
          .get(`/assets/${asset.id}/content`)
          .set(auth)
          .buffer(true)
          .parse((res, cb) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => cb(null, Buffer.concat(chunks)));
          });
        expect(content.status).toBe(200);
        expect(content.headers['content-type']).toBe('image/png');
        expect(Buffer.compare(content.body as Buffer, PNG)).toBe(0);

        // Tenant scoped: another organization gets 404 for the run's deliverables and for the asset.
        const other = await createTestOrganization(app, ds, 'func-other');
        const otherAuth = { Authorization: `Bearer ${other.users.admin.token}` };
        await request(app.getHttpServer()).get(`/orchestrations/runs/${started.body.id}/deliverables`).set(otherAuth).expect(404);
        await request(app.getHttpServer()).get(`/assets/${asset.id}/content`).set(otherAuth).expect(404);
        await request(app.getHttpServer()).get('/assets/not-a-uuid').set(auth).expect(400);
      } finally {
        app.get(AgentRunnerRegistry).register(runner);
        for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'GOOGLE_API_KEY', 'GOOGLE_API_BASE_URL']) delete process.env[name];
      }
    });
  });
});
