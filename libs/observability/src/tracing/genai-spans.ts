import { context, metrics, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

/**
 * Spans and metrics following the OpenTelemetry GenAI semantic conventions, so Langfuse or any OTLP backend shows
 * agent steps, tool calls and LLM calls without a mapping. Agent runners wrap their work in these helpers; with
 * tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT) they cost a no-op span.
 *
 * - `invoke_agent {gen_ai.agent.name}` (INTERNAL): one agent step attempt;
 * - `execute_tool {gen_ai.tool.name}` (INTERNAL): a tool agent or a tool call made by an LLM agent;
 * - `{gen_ai.operation.name} {gen_ai.request.model}` (CLIENT): one LLM API call, with provider, request and
 *   response model, token usage and `error.type`, plus the `gen_ai.client.token.usage` and
 *   `gen_ai.client.operation.duration` histograms.
 */
const TRACER = 'baton';
const tracer = () => trace.getTracer(TRACER);

/** Bucket boundaries the conventions advise for the two client histograms. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

// Instruments are created lazily against the global meter provider, which startTracing may install after import.
let instruments: { tokens: ReturnType<ReturnType<typeof metrics.getMeter>['createHistogram']>; duration: ReturnType<ReturnType<typeof metrics.getMeter>['createHistogram']> } | null = null;
let instrumentsProvider: unknown = null;
function genAiInstruments() {
  const provider = metrics.getMeterProvider();
  if (!instruments || instrumentsProvider !== provider) {
    const meter = provider.getMeter(TRACER);
    instruments = {
      tokens: meter.createHistogram('gen_ai.client.token.usage', { description: 'Number of input and output tokens used', unit: '{token}', advice: { explicitBucketBoundaries: TOKEN_BUCKETS } }),
      duration: meter.createHistogram('gen_ai.client.operation.duration', { description: 'GenAI operation duration', unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } }),
    };
    instrumentsProvider = provider;
  }
  return instruments;
}

/** `error.type`: a domain error code when there is one, else the error's class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (error instanceof Error) return error.constructor.name || error.name || 'Error';
  return '_OTHER';
}

function fail(span: Span, error: unknown): void {
  span.setAttribute('error.type', errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

async function inSpan<T>(name: string, kind: SpanKind, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

export interface AgentSpanInfo {
  /** The agent's slug. */
  name: string;
  id?: string;
  description?: string;
  /** The LLM provider, for LLM agents (`openai`, `anthropic`, ...). */
  provider?: string;
  /** Baton attributes (run id, step key, attempt): span attributes are not metric labels, ids are fine here. */
  attributes?: Attributes;
}

/** One agent step attempt as an `invoke_agent` span; LLM and tool spans started inside `fn` are its children. */
export function invokeAgentSpan<T>(agent: AgentSpanInfo, fn: (span: Span) => Promise<T>): Promise<T> {
  const attributes: Attributes = { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': agent.name, ...agent.attributes };
  if (agent.id) attributes['gen_ai.agent.id'] = agent.id;
  if (agent.description) attributes['gen_ai.agent.description'] = agent.description;
  if (agent.provider) attributes['gen_ai.provider.name'] = agent.provider;
  return inSpan(`invoke_agent ${agent.name}`, SpanKind.INTERNAL, attributes, fn);
}

export interface ToolSpanInfo {
  name: string;
  callId?: string;
  /** `function`, `extension` or `datastore` in the conventions' terms (Baton's SQL tool agents: datastore). */
  type?: string;
  description?: string;
  attributes?: Attributes;
}

/** A tool agent run, or a tool call an LLM asked for, as an `execute_tool` span. */
export function executeToolSpan<T>(tool: ToolSpanInfo, fn: (span: Span) => Promise<T>): Promise<T> {
  const attributes: Attributes = { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool.name, ...tool.attributes };
  if (tool.callId) attributes['gen_ai.tool.call.id'] = tool.callId;
  if (tool.type) attributes['gen_ai.tool.type'] = tool.type;
  if (tool.description) attributes['gen_ai.tool.description'] = tool.description;
  return inSpan(`execute_tool ${tool.name}`, SpanKind.INTERNAL, attributes, fn);
}

export interface LlmCallInfo {
  /** `chat`, `text_completion`, `generate_content`, `embeddings`, ... */
  operation: string;
  /** `openai`, `anthropic`, `aws.bedrock`, `gcp.gemini`, ... */
  provider: string;
  requestModel: string;
  attributes?: Attributes;
}

/** What the LLM answered, reported by the caller from the provider's response. */
export interface LlmResponseInfo {
  model?: string;
  id?: string;
  inputTokens?: number;
  outputTokens?: number;
  finishReasons?: string[];
}

export interface LlmCallReport {
  response(info: LlmResponseInfo): void;
  readonly span: Span;
}

/**
 * One LLM API call as a CLIENT span named `{operation} {requestModel}`. `fn` reports the response (model, usage)
 * through `report.response(...)`; the wrapper sets the attributes, `error.type` on failure, and records
 * `gen_ai.client.operation.duration` and `gen_ai.client.token.usage`.
 */
export async function llmCallSpan<T>(call: LlmCallInfo, fn: (report: LlmCallReport) => Promise<T>): Promise<T> {
  const base: Attributes = { 'gen_ai.operation.name': call.operation, 'gen_ai.provider.name': call.provider, 'gen_ai.request.model': call.requestModel };
  const started = performance.now();
  let response: LlmResponseInfo = {};
  let failure: unknown;
  try {
    return await inSpan(`${call.operation} ${call.requestModel}`, SpanKind.CLIENT, { ...base, ...call.attributes }, (span) =>
      fn({
        span,
        response(info) {
          response = { ...response, ...info };
          if (info.model) span.setAttribute('gen_ai.response.model', info.model);
          if (info.id) span.setAttribute('gen_ai.response.id', info.id);
          if (info.inputTokens !== undefined) span.setAttribute('gen_ai.usage.input_tokens', info.inputTokens);
          if (info.outputTokens !== undefined) span.setAttribute('gen_ai.usage.output_tokens', info.outputTokens);
          if (info.finishReasons) span.setAttribute('gen_ai.response.finish_reasons', info.finishReasons);
        },
      }),
    );
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    const { tokens, duration } = genAiInstruments();
    const attributes: Attributes = { ...base };
    if (response.model) attributes['gen_ai.response.model'] = response.model;
    duration.record((performance.now() - started) / 1000, failure === undefined ? attributes : { ...attributes, 'error.type': errorType(failure) });
    if (response.inputTokens !== undefined) tokens.record(response.inputTokens, { ...attributes, 'gen_ai.token.type': 'input' });
    if (response.outputTokens !== undefined) tokens.record(response.outputTokens, { ...attributes, 'gen_ai.token.type': 'output' });
  }
}

/** The span of one HTTP request handled by the API (a SERVER span; see apps/api/src/metrics/http-tracing.middleware.ts). */
export function httpServerTracer() {
  return tracer();
}
