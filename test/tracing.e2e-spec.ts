/**
 * OpenTelemetry with in-memory exporters: the SERVER span of an HTTP request continues the caller's traceparent and
 * is named by route template; the GenAI helpers produce an `invoke_agent` span with an LLM CLIENT span and an
 * `execute_tool` span under it, with the semantic-convention attributes, `error.type` on failure, the
 * `gen_ai.client.*` histograms, and a traceparent injected into an outbound call that a real local HTTP server
 * receives.
 */
import type { INestApplication } from '@nestjs/common';
import { InMemoryMetricExporter, AggregationTemporality, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../apps/api/src/bootstrap.js';
import { executeToolSpan, invokeAgentSpan, llmCallSpan, startTracing, withTraceHeaders, type TracingHandle } from '#observability';
import { testConfig } from '#testing';
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
});
