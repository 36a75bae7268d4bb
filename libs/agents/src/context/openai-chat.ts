/**
 * One chat completion from an OpenAI-compatible API (`POST {baseUrl}/chat/completions`), streamed as server-sent
 * events when asked (`stream: true` with `stream_options.include_usage`, so the last chunk carries the usage).
 * Plain HTTP over outboundStream rather than the `openai` package: see docs/adr/0003-llm-client-over-outbound-http.md.
 */
import { AgentError } from '../agent-error.js';
import { redactSecrets } from '../outbound/env-secrets.js';
import { httpStatusError, transportError } from '../outbound/http-failure.js';
import { outboundStream } from '../outbound/outbound-http.js';
import { estimateTokens } from './local-llm.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  baseUrl: string;
  apiKey: string;
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  timeoutMs: number;
  stream: boolean;
  signal: AbortSignal;
  allowPrivateNetworks: boolean;
  onDelta(text: string): void;
}

export interface ChatAnswer {
  text: string;
  finishReason: string | null;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export const LLM_BAD_ANSWER = 'LLM_BAD_ANSWER';

interface CompletionChunk {
  model?: string;
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

export async function chatCompletion(request: ChatRequest): Promise<ChatAnswer> {
  const url = `${request.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const body = JSON.stringify({
    model: request.model,
    messages: request.messages,
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
  const chunks: CompletionChunk[] = [];
  let buffer = '';
  const onChunk = (text: string, status: number) => {
    if (!request.stream || status !== 200) return;
    buffer += text;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      const data = line.startsWith('data:') ? line.slice(5).trim() : '';
      if (!data || data === '[DONE]') continue;
      const chunk = parseChunk(data);
      chunks.push(chunk);
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) request.onDelta(delta);
    }
  };
  let answer;
  try {
    answer = await outboundStream(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: request.stream ? 'text/event-stream' : 'application/json',
          authorization: `Bearer ${request.apiKey}`,
        },
        body,
        signal: request.signal,
        timeoutMs: request.timeoutMs,
      },
      { allowPrivateNetworks: request.allowPrivateNetworks },
      onChunk,
    );
  } catch (error) {
    const failure = transportError('the LLM API', error);
    throw new AgentError(failure.code, redactSecrets(failure.message, [request.apiKey]), failure.retryable, failure.retryAfterMs);
  }
  if (answer.status !== 200)
    throw httpStatusError('the LLM API', answer.status, answer.headers, redactSecrets(answer.body, [request.apiKey]));
  if (!request.stream) chunks.push(parseChunk(answer.body));
  const prompt = request.messages.map((m) => m.content).join('\n');
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? c.choices?.[0]?.message?.content ?? '').join('');
  const usage = chunks.find((c) => c.usage)?.usage;
  return {
    text,
    finishReason: chunks.map((c) => c.choices?.[0]?.finish_reason).find((r) => r) ?? null,
    model: chunks.find((c) => c.model)?.model ?? request.model,
    // A server that does not report usage still gets counted, by estimate.
    inputTokens: usage?.prompt_tokens ?? estimateTokens(prompt),
    outputTokens: usage?.completion_tokens ?? estimateTokens(text),
  };
}

function parseChunk(data: string): CompletionChunk {
  try {
    const parsed: unknown = JSON.parse(data);
    if (parsed !== null && typeof parsed === 'object') return parsed as CompletionChunk;
  } catch {
    // fall through
  }
  throw new AgentError(LLM_BAD_ANSWER, 'the LLM API answered something that is not a chat completion', true);
}
