/**
 * The `context` agent type: an LLM call. Prompts are templates of `agents.config` (`{{ input.text }}`) rendered with
 * the step input; the answer streams as throttled `llm.delta` step.progress events and ends as the step output
 * `{ text, model, provider, finishReason, analysis? }`, with tokens and cost in the response's `metadata.usage`.
 * Provider `auto` (the default) calls the OpenAI-compatible API when a base URL (config `baseUrl` or
 * BATON_LLM_BASE_URL) and the key variable (`apiKeyEnv`) are both set, and otherwise answers offline with `local`.
 * A call that belongs to a conversation (a run in an A2A context, a group step's turns) sends the conversation as chat
 * messages between the system prompt and the user prompt, its most recent messages within `historyTokens`
 * (BATON_CONTEXT_HISTORY_TOKENS by default); `history: false` sends none.
 */
import { Injectable } from '@nestjs/common';
import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { renderTemplate, TemplateError, type JsonObject, type JsonValue } from '#core';
import { randomUUID } from 'node:crypto';
import { ABORTED_ERROR, AgentError } from '../agent-error.js';
import type { AgentUsage } from '../agent-usage.js';
import type { AgentExecutionContext, HistoryMessage } from '../base-agent-runner.js';
import { RegisteredAgentRunner } from '../registered-agent-runner.js';
import { envSecret } from '../outbound/env-secrets.js';
import { DEFAULT_LLM_PRICES, pricedUsage, type ModelPrice } from './llm-prices.js';
import { estimateTokens, LOCAL_MODEL, localAnswer } from './local-llm.js';
import { llmCallSpan } from '#observability';
import { chatCompletion, type ChatMessage } from './openai-chat.js';
import { ProgressThrottle } from './progress-throttle.js';

export interface ContextAgentConfig {
  provider?: 'auto' | 'local' | 'openai';
  baseUrl?: string;
  model?: string;
  apiKeyEnv?: string;
  systemPrompt?: string;
  userPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs?: number;
  stream?: boolean;
  /** false: never send the conversation's history (default: send it when the call belongs to one). */
  history?: boolean;
  /** Most tokens of history sent (default BATON_CONTEXT_HISTORY_TOKENS). */
  historyTokens?: number;
}

export const DEFAULT_CONTEXT_MODEL = 'gpt-4o-mini';
export const DEFAULT_CONTEXT_KEY_ENV = 'OPENAI_API_KEY';
export const DEFAULT_CONTEXT_TIMEOUT_MS = 60_000;
export const PROMPT_TEMPLATE_ERROR = 'PROMPT_TEMPLATE';
export const LLM_NOT_CONFIGURED = 'LLM_NOT_CONFIGURED';

export const CONTEXT_CONFIG_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    provider: { enum: ['auto', 'local', 'openai'], description: 'auto: openai when a base URL and the key are set, else local' },
    baseUrl: { type: 'string', pattern: '^https?://', description: 'OpenAI-compatible API root, e.g. https://api.openai.com/v1' },
    model: { type: 'string', minLength: 1, maxLength: 200 },
    apiKeyEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$', description: 'Environment variable holding the API key' },
    systemPrompt: { type: 'string', maxLength: 100000 },
    userPrompt: { type: 'string', maxLength: 100000 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    maxTokens: { type: 'integer', minimum: 1, maximum: 1000000 },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 3600000 },
    stream: { type: 'boolean' },
    history: { type: 'boolean', description: 'false: never send the conversation history as chat messages' },
    historyTokens: { type: 'integer', minimum: 1, maximum: 1000000, description: 'Most tokens of history sent (default BATON_CONTEXT_HISTORY_TOKENS)' },
  },
};

@Injectable()
export class ContextAgentRunner extends RegisteredAgentRunner {
  readonly type = 'context' as const;
  override readonly configSchema = CONTEXT_CONFIG_SCHEMA;
  private get prices(): Record<string, ModelPrice> {
    return { ...DEFAULT_LLM_PRICES, ...this.appConfig.llmPrices };
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const config = context.config as ContextAgentConfig;
    const input = messageData(request.message);
    const runId = typeof request.metadata?.runId === 'string' ? request.metadata.runId : undefined;
    const system = config.systemPrompt ? promptText(config.systemPrompt, input, runId, 'systemPrompt') : '';
    const user = config.userPrompt ? promptText(config.userPrompt, input, runId, 'userPrompt') : defaultUserPrompt(input);
    const history = config.history === false ? [] : chatHistory(context.history ?? [], config.historyTokens ?? this.appConfig.contextHistoryTokens);
    const messages: ChatMessage[] = [...(system ? [{ role: 'system' as const, content: system }] : []), ...history, { role: 'user', content: user }];
    const throttle = new ProgressThrottle(context.onProgress);
    const id = request.taskId ?? randomUUID();

    const baseUrl = config.baseUrl ?? this.appConfig.llmBaseUrl;
    const keyEnv = config.apiKeyEnv ?? DEFAULT_CONTEXT_KEY_ENV;
    const apiKey = envSecret(keyEnv);
    const provider = config.provider ?? 'auto';
    const remote = provider === 'openai' || (provider === 'auto' && baseUrl !== undefined && apiKey !== undefined);

    let output: JsonObject;
    let usage: AgentUsage;
    if (remote) {
      if (!baseUrl)
        throw new AgentError(LLM_NOT_CONFIGURED, 'provider openai needs baseUrl in the agent config or BATON_LLM_BASE_URL', false);
      if (!apiKey) throw new AgentError(LLM_NOT_CONFIGURED, `provider openai needs the API key in environment variable ${keyEnv}`, false);
      const model = config.model ?? DEFAULT_CONTEXT_MODEL;
      const answer = await llmCallSpan({ operation: 'chat', provider: 'openai', requestModel: model }, async (report) => {
        const answer = await chatCompletion({
        baseUrl,
        apiKey,
        model,
        messages,
        temperature: config.temperature,
        maxTokens: config.maxTokens,
        timeoutMs: config.timeoutMs ?? DEFAULT_CONTEXT_TIMEOUT_MS,
        stream: config.stream ?? true,
        signal: context.signal,
        allowPrivateNetworks: this.appConfig.agentAllowPrivateNetworks,
        onDelta: (text) => throttle.push(text),
        });
        report.response({ model: answer.model, inputTokens: answer.inputTokens, outputTokens: answer.outputTokens, ...(answer.finishReason ? { finishReasons: [answer.finishReason] } : {}) });
        return answer;
      });
      throttle.flush();
      usage = pricedUsage(this.prices, answer.model, 'openai', answer.inputTokens, answer.outputTokens);
      output = { text: answer.text, model: answer.model, provider: 'openai', finishReason: answer.finishReason };
    } else {
      if (context.signal.aborted) throw new AgentError(ABORTED_ERROR, 'aborted', false);
      const answer = await llmCallSpan({ operation: 'chat', provider: 'local', requestModel: LOCAL_MODEL }, async (report) => {
        const answer = localAnswer(input, user, config.maxTokens);
        report.response({ model: LOCAL_MODEL, inputTokens: estimateTokens(messages.map((m) => m.content).join('\n')), outputTokens: estimateTokens(answer.text), finishReasons: ['stop'] });
        return answer;
      });
      throttle.push(answer.text);
      throttle.flush();
      usage = pricedUsage(
        this.prices,
        'local',
        'local',
        estimateTokens(messages.map((m) => m.content).join('\n')),
        estimateTokens(answer.text),
      );
      output = {
        text: answer.text,
        model: LOCAL_MODEL,
        provider: 'local',
        finishReason: 'stop',
        ...(answer.analysis ? { analysis: answer.analysis } : {}),
      };
    }
    const response = completedTask(id, request.contextId ?? id, output);
    return { ...response, metadata: { usage: { ...usage } } };
  }
}

/**
 * The conversation as chat messages: the most recent ones whose estimated tokens fit in `maxTokens`, oldest first.
 * Another speaker's words carry its name (`critic: ...`); the agent's own are `assistant` messages.
 */
export function chatHistory(history: readonly HistoryMessage[], maxTokens: number): ChatMessage[] {
  const out: ChatMessage[] = [];
  let budget = maxTokens;
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i];
    const content = m.role === 'user' && m.name ? `${m.name}: ${m.text}` : m.text;
    const tokens = estimateTokens(content);
    if (content === '') continue;
    if (tokens > budget) break;
    budget -= tokens;
    out.push({ role: m.role === 'agent' ? 'assistant' : 'user', content });
  }
  return out.reverse();
}

function promptText(template: string, input: JsonValue, runId: string | undefined, field: string): string {
  try {
    const value = renderTemplate(template, { input, steps: {}, run: { id: runId } }, `$.config.${field}`);
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch (error) {
    if (error instanceof TemplateError) throw new AgentError(PROMPT_TEMPLATE_ERROR, `${field}: ${error.message}`, false);
    throw error;
  }
}

/** Without a userPrompt: the input's `instruction` (if any) followed by the rest of the input as JSON. */
function defaultUserPrompt(input: JsonValue): string {
  if (typeof input === 'string') return input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && typeof input.instruction === 'string') {
    const { instruction, ...rest } = input;
    return Object.keys(rest).length > 0 ? `${instruction}\n\n${JSON.stringify(rest, null, 2)}` : instruction;
  }
  return JSON.stringify(input, null, 2);
}
