/**
 * The rules of a group step (type group, docs/group-steps.md), pure: who may speak next, who does under each strategy,
 * when the conversation ends, and what the step outputs. Invariant kept: the decision for turn n depends only on the
 * turns before it (as recorded in group_turns), so a group resumed on another worker after a crash picks the speaker
 * a worker that never crashed would have picked, the LLM selector's answer aside.
 */
import { outputText } from '#a2a';
import type { AgentUsage } from '#agents';
import { renderTemplate, type GroupStrategy, type JsonValue, type StepSpec } from '#core';

export const DEFAULT_GROUP_MAX_TURNS = 10;
export const DEFAULT_MAX_CONSECUTIVE_TURNS = 3;
export const DEFAULT_SELECTOR_TIMEOUT_MS = 10_000;

export interface GroupParticipant {
  /** How the transcript names it (unique in the group). */
  name: string;
  agent?: string;
  capability?: string;
  priority: number;
  /** Its position in `participants`. */
  index: number;
}

/** A group step's spec with every default applied. */
export interface CompiledGroup {
  participants: GroupParticipant[];
  strategy: GroupStrategy;
  selector: { agent: string; timeoutMs: number } | null;
  maxTurns: number;
  maxConsecutiveTurns: number;
  condition: string | null;
  stopWord: string | null;
}

/** How a turn's speaker was chosen: by the strategy, or by round-robin because the LLM selector failed. */
export type SelectedBy = 'round-robin' | 'priority' | 'llm' | 'fallback';

/** One finished turn, as recorded (group_turns) and as the transcript shows it. */
export interface GroupTurn {
  turn: number;
  speaker: string;
  /** The agent that spoke (a capability participant's agent is chosen when the step starts). */
  agent: string;
  text: string;
  output: JsonValue;
  selectedBy: SelectedBy;
  usage?: AgentUsage;
  /** Why the LLM selector was not followed (selectedBy fallback); in the group.turn event only, not recorded. */
  fallbackReason?: string;
}

export type StopReason = 'condition' | 'stop_word' | 'max_turns';

export function compileGroup(spec: StepSpec): CompiledGroup | undefined {
  if (spec.type !== 'group') return undefined;
  const participants = (spec.participants ?? []).map((p, index): GroupParticipant => {
    const entry = typeof p === 'string' ? { agent: p } : p;
    return {
      name: entry.name ?? entry.agent ?? entry.capability ?? `participant${index + 1}`,
      ...(entry.agent ? { agent: entry.agent } : {}),
      ...(entry.capability ? { capability: entry.capability } : {}),
      priority: entry.priority ?? 0,
      index,
    };
  });
  return {
    participants,
    strategy: spec.strategy ?? 'round-robin',
    selector: spec.selector ? { agent: spec.selector.agent, timeoutMs: spec.selector.timeoutMs ?? DEFAULT_SELECTOR_TIMEOUT_MS } : null,
    maxTurns: spec.maxTurns ?? DEFAULT_GROUP_MAX_TURNS,
    maxConsecutiveTurns: spec.maxConsecutiveTurns ?? DEFAULT_MAX_CONSECUTIVE_TURNS,
    condition: spec.termination?.condition ?? null,
    stopWord: spec.termination?.stopWord ?? null,
  };
}

/**
 * Who may speak at the next turn: everyone, except the last speaker once it has spoken maxConsecutiveTurns turns in a
 * row (it sits out one turn; the streak then ends since someone else speaks).
 */
export function eligibleSpeakers(group: CompiledGroup, turns: readonly GroupTurn[]): GroupParticipant[] {
  const last = turns.at(-1);
  if (!last) return group.participants;
  let streak = 0;
  for (let i = turns.length - 1; i >= 0 && turns[i].speaker === last.speaker; i--) streak++;
  if (streak < group.maxConsecutiveTurns) return group.participants;
  const others = group.participants.filter((p) => p.name !== last.speaker);
  return others.length > 0 ? others : group.participants;
}

/** round-robin: the first eligible participant after the last speaker, in list order (the first one to open). */
export function roundRobinSpeaker(group: CompiledGroup, turns: readonly GroupTurn[]): GroupParticipant {
  const eligible = new Set(eligibleSpeakers(group, turns).map((p) => p.name));
  const last = turns.at(-1);
  const start = last ? (group.participants.find((p) => p.name === last.speaker)?.index ?? -1) + 1 : 0;
  const n = group.participants.length;
  for (let k = 0; k < n; k++) {
    const candidate = group.participants[(start + k) % n];
    if (eligible.has(candidate.name)) return candidate;
  }
  return group.participants[start % n];
}

/** priority: the eligible participant with the highest priority (ties: the first listed). */
export function prioritySpeaker(group: CompiledGroup, turns: readonly GroupTurn[]): GroupParticipant {
  return [...eligibleSpeakers(group, turns)].sort((a, b) => b.priority - a.priority || a.index - b.index)[0];
}

/**
 * The participant an LLM selector named, if it is one of the eligible ones: its output is the name (a string, or a
 * string under `speaker`, `next`, `name` or `text`), matched without regard to case or surrounding space and quotes.
 */
export function selectedSpeaker(output: JsonValue, eligible: readonly GroupParticipant[]): GroupParticipant | null {
  let said: JsonValue | undefined = output;
  if (said !== null && typeof said === 'object' && !Array.isArray(said))
    said = ['speaker', 'next', 'name', 'text'].map((k) => (said as { [key: string]: JsonValue })[k]).find((v) => typeof v === 'string');
  if (typeof said !== 'string') return null;
  const wanted = said
    .trim()
    .replace(/^["'`]+|["'`.]+$/g, '')
    .trim()
    .toLowerCase();
  return eligible.find((p) => p.name.toLowerCase() === wanted) ?? null;
}

/** What a turn said, as text: its text (see outputText), else its JSON. */
export function turnText(output: JsonValue): string {
  return outputText(output) ?? JSON.stringify(output);
}

/** The transcript as templates and participants see it: one entry per turn. */
export function transcriptOf(turns: readonly GroupTurn[]): JsonValue[] {
  return turns.map((t) => ({ turn: t.turn, speaker: t.speaker, agent: t.agent, text: t.text, output: t.output, selectedBy: t.selectedBy }));
}

/** Why the group ends after `turns`, or null when it goes on. */
export function stopReason(group: CompiledGroup, turns: readonly GroupTurn[]): StopReason | null {
  const last = turns.at(-1);
  if (!last) return null;
  if (group.stopWord !== null && containsWord(last.text, group.stopWord)) return 'stop_word';
  if (group.condition !== null && truthy(conditionValue(group.condition, turns))) return 'condition';
  if (turns.length >= group.maxTurns) return 'max_turns';
  return null;
}

function conditionValue(condition: string, turns: readonly GroupTurn[]): JsonValue {
  const transcript = transcriptOf(turns);
  return renderTemplate(
    condition,
    { input: null, steps: {}, group: { transcript, last: transcript.at(-1) ?? null, turn: turns.length } },
    '$.termination.condition',
  );
}

/** A condition holds when it renders to true, a non-zero number, a non-empty array or object, or a string other than "", "false", "0", "no". */
export function truthy(value: JsonValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return !['', 'false', '0', 'no', 'null'].includes(value.trim().toLowerCase());
  if (Array.isArray(value)) return value.length > 0;
  return Object.keys(value).length > 0;
}

function containsWord(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escaped}($|[^\\p{L}\\p{N}_])`, 'u').test(text);
}

/** The step output of a finished group. */
export function groupOutput(turns: readonly GroupTurn[], reason: StopReason): JsonValue {
  const last = turns.at(-1);
  return {
    transcript: transcriptOf(turns),
    finalMessage: last?.text ?? null,
    finalSpeaker: last?.speaker ?? null,
    turns: turns.length,
    stopReason: reason,
  };
}

/** What the group's turns used, added up (tokens and cost of LLM participants and the selector), or undefined. */
export function groupUsage(turns: readonly GroupTurn[]): AgentUsage | undefined {
  return turns.reduce<AgentUsage | undefined>((sum, t) => addUsage(sum, t.usage), undefined);
}

/** Adds two usages (a turn's speaker and its selector), either possibly absent. */
export function addUsage(a: AgentUsage | undefined, b: AgentUsage | undefined): AgentUsage | undefined {
  if (!a || !b) return a ?? b;
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    costUsd: a.costUsd + b.costUsd,
    model: a.model === b.model ? a.model : null,
    provider: a.provider === b.provider ? a.provider : null,
  };
}
