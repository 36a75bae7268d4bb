/**
 * Runs one attempt of a group step on the worker holding its lease: turn after turn, pick the speaker (strategy,
 * throttling), call it, and hand the turn to the result applier. Invariants kept:
 * - a turn counts once it is recorded: the next turn starts only after the previous one's transaction committed
 *   (recordTurn resolved true), so a crash at any point loses at most the turn in flight, which the next holder of
 *   the step runs again; a finished turn is never run twice;
 * - the turn that ends the group is not recorded on its own: it rides on the step's completion (one commit per turn);
 * - fenced out (recordTurn resolved false: the lease was lost, the run cancelled), the attempt stops at once;
 * - the LLM selector never fails the group: a failed, slow or unusable answer falls back to round-robin.
 * It never touches the database itself.
 */
import { ABORTED_ERROR, type HistoryMessage } from '#agents';
import { TemplateError, type JsonValue } from '#core';
import {
  addUsage,
  eligibleSpeakers,
  groupOutput,
  groupUsage,
  prioritySpeaker,
  roundRobinSpeaker,
  selectedSpeaker,
  stopReason,
  turnText,
  type GroupParticipant,
  type GroupTurn,
  type SelectedBy,
  type StopReason,
} from '../group/group-conversation.js';
import type { GroupStart } from './group-planner.js';
import type { ClaimedStep } from './step-claimer.js';
import type { AgentCall } from './step-executor.js';
import type { StepOutcome, TurnRecorder } from './step-outcome.js';
import type { AgentUsage } from '#agents';

export interface GroupRun {
  step: ClaimedStep;
  start: GroupStart;
  signal: AbortSignal;
  onProgress: (progress: JsonValue) => void;
  recordTurn: TurnRecorder;
  /** Calls one agent (through its breaker, under the step's trace). */
  invoke: (call: AgentCall, signal: AbortSignal) => Promise<StepOutcome>;
}

interface Choice {
  speaker: GroupParticipant;
  selectedBy: SelectedBy;
  fallbackReason?: string;
  usage?: AgentUsage;
}

export async function runGroup(run: GroupRun): Promise<StepOutcome> {
  const { step, start, signal } = run;
  const turns = [...start.turns];
  for (;;) {
    let reason: StopReason | null;
    try {
      reason = stopReason(start.group, turns);
    } catch (error) {
      return conditionFailed(error);
    }
    // Only reachable when recorded turns already end the group (they never do: the last one rides on the completion).
    if (reason) return { kind: 'completed', output: groupOutput(turns, reason), ...usageOf(turns) };
    if (signal.aborted) return aborted();
    const number = turns.length + 1;
    const choice = await choose(run, turns, number);
    if (signal.aborted) return aborted();
    const speaker = start.speakers.get(choice.speaker.name) ?? { slug: choice.speaker.agent ?? '', agent: null };
    const said = await run.invoke(
      {
        step,
        slug: speaker.slug,
        agent: speaker.agent,
        input: turnInput(run, turns, choice.speaker, number),
        timeoutMs: step.timeoutMs,
        history: historyFor(step.history ?? [], turns, choice.speaker.name),
        metadata: { groupTurn: number, speaker: choice.speaker.name },
      },
      signal,
    );
    if (said.kind === 'input_required')
      return {
        kind: 'failed',
        error: {
          code: 'GROUP_INPUT_REQUIRED',
          message: `participant ${choice.speaker.name} asked for input, which a group turn cannot give`,
          retryable: false,
        },
      };
    if (said.kind !== 'completed') return said;
    const usage = addUsage(said.usage, choice.usage);
    const turn: GroupTurn = {
      turn: number,
      speaker: choice.speaker.name,
      agent: speaker.slug,
      text: turnText(said.output),
      output: said.output,
      selectedBy: choice.selectedBy,
      ...(usage ? { usage } : {}),
      ...(choice.fallbackReason ? { fallbackReason: choice.fallbackReason } : {}),
    };
    turns.push(turn);
    try {
      reason = stopReason(start.group, turns);
    } catch (error) {
      return conditionFailed(error);
    }
    const breaker = said.breaker ? { breaker: said.breaker } : {};
    if (reason) return { kind: 'completed', output: groupOutput(turns, reason), turn, ...usageOf(turns), ...breaker };
    if (!(await run.recordTurn({ kind: 'turn', turn, ...breaker }))) return aborted();
  }
}

/** Who speaks at turn `number`: the strategy's pick among the participants allowed to (see eligibleSpeakers). */
async function choose(run: GroupRun, turns: GroupTurn[], number: number): Promise<Choice> {
  const { group, selector } = run.start;
  if (group.strategy === 'priority') return { speaker: prioritySpeaker(group, turns), selectedBy: 'priority' };
  if (group.strategy === 'round-robin' || !selector || !group.selector)
    return { speaker: roundRobinSpeaker(group, turns), selectedBy: 'round-robin' };
  const eligible = eligibleSpeakers(group, turns);
  const fallback = (why: string, usage?: AgentUsage): Choice => ({
    speaker: roundRobinSpeaker(group, turns),
    selectedBy: 'fallback',
    fallbackReason: why,
    ...(usage ? { usage } : {}),
  });
  const answer = await run.invoke(
    {
      step: run.step,
      slug: selector.slug,
      agent: selector.agent,
      input: {
        ...taskOf(run.step.input),
        group: {
          turn: number,
          participants: group.participants.map((p) => p.name),
          candidates: eligible.map((p) => p.name),
          transcript: spoken(turns),
        },
        instruction: `Name the participant who speaks next, one of: ${eligible.map((p) => p.name).join(', ')}. Answer with the name only.`,
      },
      timeoutMs: group.selector.timeoutMs,
      history: historyFor(run.step.history ?? [], turns, null),
      metadata: { groupTurn: number, selector: true },
    },
    run.signal,
  );
  if (answer.kind !== 'completed') {
    const why = answer.kind === 'failed' ? `${answer.error.code}: ${answer.error.message}` : `the selector answered ${answer.kind}`;
    return fallback(why);
  }
  const picked = selectedSpeaker(answer.output, eligible);
  if (!picked)
    return fallback(
      `the selector named ${JSON.stringify(turnText(answer.output)).slice(0, 200)}, not one of ${eligible.map((p) => p.name).join(', ')}`,
      answer.usage,
    );
  return { speaker: picked, selectedBy: 'llm', ...(answer.usage ? { usage: answer.usage } : {}) };
}

/** The step input as an object (a non-object input sits under `task`). */
function taskOf(input: JsonValue): { [key: string]: JsonValue } {
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) return input;
  return input === null ? {} : { task: input };
}

/** What a participant receives: the step input, and `group` (turn, who it is, who is there, what was said). */
function turnInput(run: GroupRun, turns: GroupTurn[], speaker: GroupParticipant, number: number): JsonValue {
  const participants = run.start.group.participants.map((p) => p.name);
  return { ...taskOf(run.step.input), group: { turn: number, speaker: speaker.name, participants, transcript: spoken(turns) } };
}

/** The transcript as participants read it: who said what (outputs stay in the step output, not in every input). */
function spoken(turns: GroupTurn[]): JsonValue[] {
  return turns.map((t) => ({ turn: t.turn, speaker: t.speaker, text: t.text }));
}

/** The run's conversation, then the group's turns: the speaker's own as `agent`, everyone else's as named `user` messages. */
function historyFor(conversation: HistoryMessage[], turns: GroupTurn[], self: string | null): HistoryMessage[] {
  return [
    ...conversation,
    ...turns.map((t): HistoryMessage =>
      t.speaker === self ? { role: 'agent', text: t.text } : { role: 'user', text: t.text, name: t.speaker },
    ),
  ];
}

function usageOf(turns: GroupTurn[]): { usage?: AgentUsage } {
  const usage = groupUsage(turns);
  return usage ? { usage } : {};
}

function aborted(): StepOutcome {
  return { kind: 'failed', error: { code: ABORTED_ERROR, message: 'aborted', retryable: false } };
}

function conditionFailed(error: unknown): StepOutcome {
  const message = error instanceof TemplateError ? `${error.path}: ${error.message}` : (error as Error).message;
  return { kind: 'failed', error: { code: 'GROUP_CONDITION', message: `the termination condition failed: ${message}`, retryable: false } };
}
