/**
 * The built-in offline provider `local`: deterministic answers without a model, so every seeded flow runs with no
 * network and tests can assert exact outputs. It reads the step input, not the prompt:
 * - rows with numeric `value` and `target` (KPI rows: metric, region, value, target): each row compared with its
 *   target, misses flagged with their gap, totals per metric;
 * - other rows (objects): one line per row with its scalar fields;
 * - text: an extractive summary, the highest-scoring sentences (frequent content words, numbers) in their order.
 * Token counts are estimated (4 characters a token) so usage and budgets behave as with a real model.
 */
import type { JsonObject, JsonValue } from '#core';

export const LOCAL_MODEL = 'local-extractive';

export interface LocalAnswer {
  text: string;
  analysis?: JsonObject;
}

const STOP_WORDS = new Set(
  'the and for are but not you all any can had her was one our out has have his how its may new now old see two who did get let put say she too use with that this from they will would there their what about which when make like than then them these some into more also been were your each only over such most very just'.split(
    ' ',
  ),
);

export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

const isObject = (v: JsonValue | undefined): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const isRows = (v: JsonValue | undefined): v is JsonObject[] => Array.isArray(v) && v.length > 0 && v.every(isObject);

/** The rows of the input: the input itself when it is an array of objects, else its first such field. */
function findRows(input: JsonValue): JsonObject[] | null {
  if (isRows(input)) return input;
  if (isObject(input)) for (const value of Object.values(input)) if (isRows(value)) return value;
  return null;
}

/** The text of the input: a string input, else its string fields (instructions aside) joined. */
function findText(input: JsonValue, fallback: string): string {
  if (typeof input === 'string') return input;
  if (isObject(input)) {
    const fields = Object.entries(input)
      .filter(([key, value]) => typeof value === 'string' && key !== 'instruction' && key !== 'prompt')
      .map(([, value]) => value as string);
    if (fields.length > 0) return fields.join('\n');
  }
  return fallback;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const percent = (value: number, target: number) => (target === 0 ? null : round((value / target) * 100));
const label = (row: JsonObject) => [row.metric, row.region].filter((v) => typeof v === 'string' && v).join(' in ') || 'row';

function analyseKpis(rows: JsonObject[]): LocalAnswer {
  const measured = rows.filter(
    (r) => r.value !== null && r.target !== null && Number.isFinite(Number(r.value)) && Number.isFinite(Number(r.target)),
  );
  // A KPI where lower is better (churn, cost: `higher_is_better: false`) misses when it is above its target.
  const missed = measured.filter((r) => (r.higher_is_better === false ? Number(r.value) > Number(r.target) : Number(r.value) < Number(r.target)));
  const misses = missed.map((r) => ({
    metric: r.metric ?? null,
    region: r.region ?? null,
    value: Number(r.value),
    target: Number(r.target),
    gap: round(Number(r.value) - Number(r.target), 4),
    // attainment of a lower-is-better KPI: target / value (over its target: under 100%)
    attainmentPct: r.higher_is_better === false ? percent(Number(r.target), Number(r.value)) : percent(Number(r.value), Number(r.target)),
  }));
  const byMetric = new Map<string, { value: number; target: number; rows: number; lowerIsBetter: boolean }>();
  for (const r of measured) {
    const key = typeof r.metric === 'string' ? r.metric : 'value';
    const total = byMetric.get(key) ?? { value: 0, target: 0, rows: 0, lowerIsBetter: r.higher_is_better === false };
    byMetric.set(key, { ...total, value: total.value + Number(r.value), target: total.target + Number(r.target), rows: total.rows + 1 });
  }
  const totals = [...byMetric].map(([metric, t]) => ({
    metric,
    rows: t.rows,
    value: round(t.value, 4),
    target: round(t.target, 4),
    attainmentPct: t.lowerIsBetter ? percent(t.target, t.value) : percent(t.value, t.target),
  }));
  const onTarget = measured.length - misses.length;
  const lines = [
    `KPI analysis of ${measured.length} rows: ${onTarget} on target, ${misses.length} missed.`,
    ...(misses.length > 0
      ? [`Missed: ${misses.map((m, i) => `${label(missed[i])} ${m.value} vs ${m.target} (${m.attainmentPct ?? '-'}%)`).join('; ')}.`]
      : ['Every KPI met its target.']),
    `Totals: ${totals.map((t) => `${t.metric} ${t.value} vs ${t.target} (${t.attainmentPct ?? '-'}%)`).join('; ')}.`,
  ];
  return { text: lines.join('\n'), analysis: { rows: measured.length, onTarget, missed: misses.length, misses, totals } };
}

function describeRows(rows: JsonObject[]): LocalAnswer {
  const describe = (row: JsonObject) =>
    Object.entries(row)
      .slice(0, 8)
      .map(([key, value]) =>
        Array.isArray(value) ? `${key}: ${value.length} items` : isObject(value) ? `${key}: {…}` : `${key}: ${String(value)}`,
      )
      .join(', ');
  const text = [`${rows.length} item${rows.length === 1 ? '' : 's'}.`, ...rows.map((row, i) => `${i + 1}. ${describe(row)}`)].join('\n');
  return { text, analysis: { items: rows.length } };
}

/** The `count` best sentences of `text`, in their original order. */
export function extractiveSummary(text: string, count = 3): string {
  const sentences = text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (sentences.length <= count) return sentences.join(' ');
  const words = (s: string) =>
    s
      .toLowerCase()
      .match(/[a-z][a-z'-]{2,}/g)
      ?.filter((w) => !STOP_WORDS.has(w)) ?? [];
  const frequency = new Map<string, number>();
  for (const w of sentences.flatMap(words)) frequency.set(w, (frequency.get(w) ?? 0) + 1);
  const scored = sentences.map((sentence, index) => {
    const ws = words(sentence);
    const content = ws.reduce((sum, w) => sum + (frequency.get(w) ?? 0), 0) / Math.sqrt(ws.length || 1);
    const numbers = /\d/.test(sentence) ? 1.5 : 0; // the key numbers first
    const lead = index === 0 ? 1 : 0; // an opening sentence usually states the subject
    return { index, score: content + numbers + lead };
  });
  const chosen = scored
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, count)
    .sort((a, b) => a.index - b.index);
  return chosen.map((c) => sentences[c.index]).join(' ');
}

export function localAnswer(input: JsonValue, userPrompt: string, maxTokens: number | undefined): LocalAnswer {
  const rows = findRows(input);
  const answer: LocalAnswer = rows
    ? rows.some((r) => 'value' in r && 'target' in r)
      ? analyseKpis(rows)
      : describeRows(rows)
    : { text: extractiveSummary(findText(input, userPrompt)) };
  // Like a model's max_tokens: the answer is cut at about that many tokens.
  if (maxTokens !== undefined && answer.text.length > maxTokens * 4) answer.text = answer.text.slice(0, maxTokens * 4);
  return answer;
}
