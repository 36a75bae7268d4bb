import {
  compileGroup,
  eligibleSpeakers,
  groupOutput,
  groupUsage,
  prioritySpeaker,
  roundRobinSpeaker,
  selectedSpeaker,
  stopReason,
  truthy,
  turnText,
  type GroupTurn,
} from './group-conversation.js';

const group = (extra: Record<string, unknown> = {}) =>
  compileGroup({
    key: 'g',
    type: 'group',
    participants: ['a', { agent: 'b', priority: 5 }, { capability: 'review', name: 'c', priority: 5 }],
    ...extra,
  })!;

const said = (...speakers: string[]): GroupTurn[] =>
  speakers.map((speaker, i) => ({
    turn: i + 1,
    speaker,
    agent: speaker,
    text: `${speaker} ${i + 1}`,
    output: { text: `${speaker} ${i + 1}` },
    selectedBy: 'round-robin',
  }));

describe('group conversation rules', () => {
  it('applies the defaults and names participants by agent or capability', () => {
    const g = compileGroup({ key: 'g', type: 'group', participants: ['a', { capability: 'review' }] })!;
    expect(g).toMatchObject({
      strategy: 'round-robin',
      maxTurns: 10,
      maxConsecutiveTurns: 3,
      condition: null,
      stopWord: null,
      selector: null,
    });
    expect(g.participants.map((p) => p.name)).toEqual(['a', 'review']);
    expect(compileGroup({ key: 'x', agent: 'echo' })).toBeUndefined();
  });

  it('round-robin goes around in list order', () => {
    const g = group();
    expect([[], ['a'], ['a', 'b'], ['a', 'b', 'c']].map((s) => roundRobinSpeaker(g, said(...s)).name)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('priority picks the highest (first listed on ties), and a speaker sits out one turn after maxConsecutiveTurns', () => {
    const g = group({ strategy: 'priority', maxConsecutiveTurns: 2 });
    expect(prioritySpeaker(g, said()).name).toBe('b');
    expect(prioritySpeaker(g, said('b')).name).toBe('b');
    expect(eligibleSpeakers(g, said('b', 'b')).map((p) => p.name)).toEqual(['a', 'c']);
    expect(prioritySpeaker(g, said('b', 'b')).name).toBe('c');
    expect(prioritySpeaker(g, said('b', 'b', 'c')).name).toBe('b');
    expect(roundRobinSpeaker(group({ maxConsecutiveTurns: 1 }), said('a')).name).toBe('b');
  });

  it('reads the selector answer as a participant name, or nothing', () => {
    const eligible = group().participants;
    expect(selectedSpeaker('  "B".', eligible)?.name).toBe('b');
    expect(selectedSpeaker({ speaker: 'c' }, eligible)?.name).toBe('c');
    expect(selectedSpeaker({ text: 'nobody' }, eligible)).toBeNull();
    expect(selectedSpeaker(42, eligible)).toBeNull();
    expect(selectedSpeaker('a', eligible.slice(1))).toBeNull();
  });

  it('ends on the stop word (a whole word), the condition, or maxTurns', () => {
    const words = group({ termination: { stopWord: 'DONE' }, maxTurns: 4 });
    const turn = (text: string): GroupTurn[] => [{ turn: 1, speaker: 'a', agent: 'a', text, output: text, selectedBy: 'round-robin' }];
    expect(stopReason(words, turn('all DONE.'))).toBe('stop_word');
    expect(stopReason(words, turn('UNDONE'))).toBeNull();
    expect(stopReason(words, said('a', 'b', 'c', 'a'))).toBe('max_turns');
    const condition = group({ termination: { condition: '{{ group.last.output.text }}' } });
    expect(stopReason(condition, said('a'))).toBe('condition');
    const approved = group({ termination: { condition: '{{ group.transcript[1].output.approved }}' } });
    expect(stopReason(approved, said('a', 'b'))).toBeNull();
    expect(['yes', 1, [0], { a: 1 }, true].map(truthy)).toEqual([true, true, true, true, true]);
    expect(['', 'false', ' No ', 0, [], {}, null, false].map(truthy)).toEqual([false, false, false, false, false, false, false, false]);
  });

  it('outputs the transcript, the final message and why it ended; adds up usage', () => {
    const turns = said('a', 'b');
    turns[0].usage = { inputTokens: 10, outputTokens: 2, totalTokens: 12, costUsd: 0.5, model: 'm', provider: 'p' };
    turns[1].usage = { inputTokens: 1, outputTokens: 1, totalTokens: 2, costUsd: 0.25, model: 'm', provider: 'q' };
    expect(groupOutput(turns, 'max_turns')).toEqual({
      transcript: turns.map((t) => ({
        turn: t.turn,
        speaker: t.speaker,
        agent: t.agent,
        text: t.text,
        output: t.output,
        selectedBy: t.selectedBy,
      })),
      finalMessage: 'b 2',
      finalSpeaker: 'b',
      turns: 2,
      stopReason: 'max_turns',
    });
    expect(groupUsage(turns)).toEqual({ inputTokens: 11, outputTokens: 3, totalTokens: 14, costUsd: 0.75, model: 'm', provider: null });
    expect(turnText({ answer: 'yes', text: 1 })).toBe('yes');
    expect(turnText({ n: 1 })).toBe('{"n":1}');
  });
});
