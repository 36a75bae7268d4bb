import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { AppConfig } from '#config';

export interface TracingHandle {
  /** Flushes pending spans and metrics and stops exporting. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Instead of the OTLP exporters (tests: an in-memory exporter behind a SimpleSpanProcessor). */
  spanProcessors?: SpanProcessor[];
  metricReaders?: MetricReader[];
}

let active: TracingHandle | null = null;

/**
 * Turns OpenTelemetry on for this process: an SDK tracer and meter provider behind the API package the code uses,
 * W3C trace context propagation, and OTLP/HTTP exporters to OTEL_EXPORTER_OTLP_ENDPOINT (headers from
 * OTEL_EXPORTER_OTLP_HEADERS, read by the exporters). Without the endpoint (and without test processors) it does
 * nothing: the API package's no-op implementations stay in place and cost nothing. Idempotent per process.
 */
export function startTracing(config: AppConfig, options: TracingOptions = {}): TracingHandle | null {
  if (active) return active;
  const endpoint = config.otlpEndpoint?.replace(/\/+$/, '');
  if (!endpoint && !options.spanProcessors) return null;
  const resource = resourceFromAttributes({ 'service.name': config.otelServiceName, 'service.instance.id': `${process.pid}`, 'baton.role': config.role });
  const spanProcessors = options.spanProcessors ?? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }) })];
  const readers = options.metricReaders ?? (endpoint ? [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }), exportIntervalMillis: 30_000 })] : []);
  const tracerProvider = new TracerProvider({ resource, spanProcessors });
  const meterProvider = new MeterProvider({ resource, readers });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  const handle: TracingHandle = {
    async shutdown() {
      active = null;
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    },
  };
  active = handle;
  return handle;
}
