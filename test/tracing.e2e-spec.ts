/**
 * OpenTelemetry with in-memory exporters: the SERVER span of an HTTP request continues the caller's traceparent and
 * is named by route template; the GenAI helpers produce an `invoke_agent` span with an LLM CLIENT span and an
 * `execute_tool` span under it, with the semantic-convention attributes, `error.type` on failure, the
 * `gen_ai.client.*` histograms, and a traceparent injected into an outbound call that a real local HTTP server
 * receives; and the trace of one run: the request that starts it, the run's span, one span per step attempt with
 * the agent call under it (execute_tool, invoke_agent, the LLM's chat span, the api agent's HTTP call, whose
 * traceparent the stand-in server receives), and the run's completion, all in the request's trace.
 */
import type { INestApplication } from '@nestjs/common';
import { InMemoryMetricExporter, AggregationTemporality, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../apps/api/src/bootstrap.js';
import { executeToolSpan, invokeAgentSpan, llmCallSpan, startTracing, withTraceHeaders, type TracingHandle } from '#observability';
import { createDataSource, dropDatabase, migrateDatabase } from '#persistence';
import { createScratchDatabase, createTestOrganization, insertDefinition, testConfig, TEST_ADMIN_URL_ENV, waitFor, waitForRun } from '#testing';
import type { DataSource } from 'typeorm';
import { jest } from '@jest/globals';

jest.setTimeout(30_000);

describe('tracing (e2e)', () => {
  const spans = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
  let tracing: TracingHandle | null;
  let app: INestApplication;
  let peer: Server;
  let peerUrl: string;
  const received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    tracing = startTracing(testConfig(), { spanProcessors: [new SimpleSpanProcessor({ exporter: spans })], metricReaders: [reader] });
    app = await createApp(testConfig());
    await app.init();
    peer = createServer((req, res) => {
      received.push(req.headers);
      res.end('{}');
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}/agent`;
  });

  afterAll(async () => {
    await app?.close();
    await new Promise((resolve) => peer?.close(resolve));
    await tracing?.shutdown();
  });

  it('gives each HTTP request a SERVER span under the incoming traceparent, named by route template', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await request(app.getHttpServer()).get('/health').set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`).expect(200);
    const span = spans.getFinishedSpans().find((s) => s.name === 'GET /health');
    expect(span).toBeDefined();
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span?.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/health', 'http.response.status_code': 200 });
    expect(typeof span?.attributes['baton.request_id']).toBe('string');
  });

  it('builds the GenAI span tree of one agent step, with usage, errors, metrics and outbound trace context', async () => {
    spans.reset();
    await invokeAgentSpan({ name: 'writer', provider: 'openai', attributes: { 'baton.run_id': 'r1', 'baton.step_key': 'draft', 'baton.attempt': 1 } }, async () => {
      await llmCallSpan({ operation: 'chat', provider: 'openai', requestModel: 'gpt-test' }, async (report) => {
        await fetch(peerUrl, { method: 'POST', headers: withTraceHeaders({ 'content-type': 'application/json' }), body: '{}' });
        report.response({ model: 'gpt-test-2026', inputTokens: 12, outputTokens: 7, finishReasons: ['stop'] });
      });
      await executeToolSpan({ name: 'sql_query', type: 'datastore' }, async () => 'rows');
      await expect(
        llmCallSpan({ operation: 'chat', provider: 'openai', requestModel: 'gpt-test' }, async () => {
          throw Object.assign(new Error('rate limited'), { code: 'RATE_LIMITED' });
        }),
      ).rejects.toThrow('rate limited');
    });

    const finished = spans.getFinishedSpans();
    const agent = finished.find((s) => s.name === 'invoke_agent writer');
    const llm = finished.filter((s) => s.name === 'chat gpt-test');
    const tool = finished.find((s) => s.name === 'execute_tool sql_query');
    expect(agent?.attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'writer', 'gen_ai.provider.name': 'openai', 'baton.step_key': 'draft' });
    expect(llm).toHaveLength(2);
    for (const child of [...llm, tool]) expect(child?.parentSpanContext?.spanId).toBe(agent?.spanContext().spanId);
    expect(llm[0].kind).toBe(2); // CLIENT
    expect(llm[0].attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-test',
      'gen_ai.response.model': 'gpt-test-2026',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 7,
    });
    expect(llm[1].attributes['error.type']).toBe('RATE_LIMITED');
    expect(llm[1].status.code).toBe(2); // ERROR
    expect(tool?.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'sql_query', 'gen_ai.tool.type': 'datastore' });

    // The outbound call carried the LLM span's context.
    expect(received.at(-1)?.traceparent).toBe(`00-${llm[0].spanContext().traceId}-${llm[0].spanContext().spanId}-01`);

    await reader.forceFlush();
    const exported = metricExporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    const usage = exported.filter((m) => m.descriptor.name === 'gen_ai.client.token.usage').at(-1) as HistogramMetricData;
    const duration = exported.filter((m) => m.descriptor.name === 'gen_ai.client.operation.duration').at(-1) as HistogramMetricData;
    expect(usage.descriptor.unit).toBe('{token}');
    expect(duration.descriptor.unit).toBe('s');
    const byType = Object.fromEntries(usage.dataPoints.map((p) => [String(p.attributes['gen_ai.token.type']), p.value.sum]));
    expect(byType).toEqual({ input: 12, output: 7 });
    expect(usage.dataPoints[0].attributes).toMatchObject({ 'gen_ai.request.model': 'gpt-test', 'gen_ai.response.model': 'gpt-test-2026', 'gen_ai.provider.name': 'openai' });
    expect(duration.dataPoints.map((p) => p.attributes['error.type'] ?? 'ok').sort()).toEqual(['RATE_LIMITED', 'ok']);
  });

  it("puts a run in the trace of the request that starts it: run span, step attempts, agent calls, outbound traceparent, transitions", async () => {
    const url = await createScratchDatabase(process.env[TEST_ADMIN_URL_ENV] as string, `tracing_${process.pid}`);
    const ds: DataSource = createDataSource(url, 3);
    await ds.initialize();
    await migrateDatabase(ds);
    const engine = await createApp(testConfig({ databaseUrl: url, role: 'all', pollIntervalMs: 100 }));
    await engine.init();
    try {
      const org = await createTestOrganization(engine, ds, 'tracing');
      const http = () => request(engine.getHttpServer());
      const admin = { Authorization: `Bearer ${org.users.admin.token}` };
      await http().post('/agents').set(admin).send({ slug: 'peer-api', name: 'peer-api', type: 'api', config: { method: 'POST', url: peerUrl } }).expect(201);
      await http().post('/agents').set(admin).send({ slug: 'writer', name: 'writer', type: 'context', config: { provider: 'local' } }).expect(201);
      await insertDefinition(ds, org.id, {
        slug: 'traced',
        name: 'traced',
        steps: [
          { key: 'a', agent: 'echo', input: { text: 'Runs are durable. Steps are traced.' } },
          { key: 'b', agent: 'peer-api', dependsOn: ['a'], input: { from: '{{ steps.a.output.text }}' } },
          { key: 'c', agent: 'writer', dependsOn: ['a'], input: { text: '{{ steps.a.output.text }}' } },
        ],
      });
      spans.reset();
      received.length = 0;
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const started = await http()
        .post('/orchestrations/runs')
        .set({ Authorization: `Bearer ${org.users.operator.token}`, traceparent: `00-${traceId}-b7ad6b7169203331-01` })
        .send({ definition: 'traced', input: {} })
        .expect(201);
      const runId = started.body.id as string;
      await waitForRun(engine, org.users.operator.token, runId, ['completed']);
      const find = (name: string) => spans.getFinishedSpans().find((s) => s.name === name && s.spanContext().traceId === traceId);
      await waitFor(async () => find('run.completed traced'));
      const inTrace = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const byName = (name: string) => {
        const span = inTrace.find((s) => s.name === name);
        if (!span) throw new Error(`no span ${name} in ${inTrace.map((s) => s.name).join(', ')}`);
        return span;
      };
      const parentOf = (name: string) => byName(name).parentSpanContext?.spanId;
      const idOf = (name: string) => byName(name).spanContext().spanId;

      const server = byName('POST /orchestrations/runs');
      expect(server.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      expect(parentOf('run traced')).toBe(server.spanContext().spanId);
      expect(byName('run traced').attributes).toMatchObject({ 'baton.run_id': runId, 'baton.definition': 'traced' });
      for (const key of ['a', 'b', 'c']) {
        expect(parentOf(`step ${key}`)).toBe(idOf('run traced'));
        expect(byName(`step ${key}`).attributes).toMatchObject({ 'baton.run_id': runId, 'baton.step_key': key, 'baton.attempt': 1, 'baton.outcome': 'completed' });
      }
      expect(parentOf('execute_tool echo')).toBe(idOf('step a'));
      expect(byName('execute_tool echo').attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'echo' });
      expect(parentOf('invoke_agent peer-api')).toBe(idOf('step b'));
      expect(parentOf('invoke_agent writer')).toBe(idOf('step c'));
      expect(byName('invoke_agent writer').attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'writer' });
      const chat = byName('chat local-extractive');
      expect(chat.parentSpanContext?.spanId).toBe(idOf('invoke_agent writer'));
      expect(chat.attributes).toMatchObject({ 'gen_ai.provider.name': 'local', 'gen_ai.request.model': 'local-extractive', 'gen_ai.response.model': 'local-extractive' });
      expect(chat.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      // The api agent's HTTP call: a CLIENT span under its invoke_agent span, whose context the peer received.
      const call = byName('POST');
      expect(call.kind).toBe(2);
      expect(call.parentSpanContext?.spanId).toBe(idOf('invoke_agent peer-api'));
      expect(call.attributes).toMatchObject({ 'http.request.method': 'POST', 'server.address': '127.0.0.1', 'http.response.status_code': 200 });
      expect(received.map((h) => h.traceparent)).toContain(`00-${traceId}-${call.spanContext().spanId}-01`);
      expect(parentOf('run.completed traced')).toBe(idOf('run traced'));
      // Nothing of the run is left in a span that is still open: every span above has ended (exported).
      expect(inTrace.every((s) => s.ended)).toBe(true);
    } finally {
      await engine.close();
      await ds.destroy();
      await dropDatabase(process.env[TEST_ADMIN_URL_ENV] as string, new URL(url).pathname.slice(1));
    }
  });
});
