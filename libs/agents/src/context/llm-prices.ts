/**
 * What tokens cost, USD per million, by model: built-in list prices of common OpenAI models (as published when this
 * was written; operators override or extend them with BATON_LLM_PRICES). A model missing from the table costs 0:
 * the tokens are still counted, and the price can be added without a release.
 */
import type { AgentUsage } from '../agent-usage.js';

export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

export const DEFAULT_LLM_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'o4-mini': { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  local: { inputPerMTok: 0, outputPerMTok: 0 },
};

/** Usage of one call, priced: the model's exact entry, else the longest entry its name starts with (dated snapshots). */
export function pricedUsage(
  prices: Readonly<Record<string, ModelPrice>>,
  model: string,
  provider: string,
  inputTokens: number,
  outputTokens: number,
): AgentUsage {
  const key = prices[model]
    ? model
    : Object.keys(prices)
        .filter((name) => model.startsWith(`${name}-`))
        .sort((a, b) => b.length - a.length)[0];
  const price = key ? prices[key] : undefined;
  const costUsd = price ? (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1_000_000 : 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens, costUsd: Number(costUsd.toFixed(8)), model, provider };
}
