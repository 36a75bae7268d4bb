import { referencedNames, type DefinitionCatalog } from './definition-checks.js';
import { validateDefinitionDocument } from './definition-validator.js';

const catalog: DefinitionCatalog = {
  agents: new Set(['writer', 'critic', 'picker']),
  activeDefinitions: new Set(),
  capabilities: new Set(['review']),
};

type Doc = Record<string, unknown>;

function withGroup(group: Doc): Doc {
  return {
    slug: 'debate',
    name: 'Debate',
    steps: [
      { key: 'brief', agent: 'echo', input: { topic: '{{ input.topic }}' } },
      { key: 'talk', type: 'group', dependsOn: ['brief'], input: { topic: '{{ steps.brief.output.topic }}' }, ...group },
    ],
  };
}

const problemsOf = (doc: Doc) => validateDefinitionDocument(doc, catalog).problems.map((p) => ({ path: p.path, message: p.message }));

describe('group steps in definitions', () => {
  it('accepts every group field', () => {
    const doc = withGroup({
      participants: ['writer', { agent: 'critic', name: 'Critic', priority: 2 }, { capability: 'review', name: 'reviewer', priority: 1 }],
      strategy: 'priority',
      maxTurns: 12,
      maxConsecutiveTurns: 2,
      termination: { condition: '{{ group.last.output.approved }}', stopWord: 'TERMINATE' },
      approval: { prompt: 'Publish the transcript?' },
    });
    expect(problemsOf(doc)).toEqual([]);
    expect(
      problemsOf(withGroup({ participants: ['writer', 'critic'], strategy: 'llm', selector: { agent: 'picker', timeoutMs: 2000 } })),
    ).toEqual([]);
  });

  it('names the participants, selector and capabilities it references, for the catalog lookup', () => {
    const names = referencedNames(
      withGroup({ participants: ['writer', { capability: 'review' }], strategy: 'llm', selector: { agent: 'picker' } }),
    );
    expect(names.agents.sort()).toEqual(['echo', 'picker', 'writer']);
    expect(names.capabilities).toEqual(['review']);
  });

  it('refuses too few or too many participants, and unknown agents or capabilities', () => {
    expect(problemsOf(withGroup({ participants: ['writer'] }))).toEqual([
      { path: '$.steps[1].participants', message: 'must NOT have fewer than 2 items' },
    ]);
    const many = Array.from({ length: 11 }, (_, i) => ({ agent: 'echo', name: `echo${i}` }));
    expect(problemsOf(withGroup({ participants: many }))).toEqual([
      { path: '$.steps[1].participants', message: 'must NOT have more than 10 items' },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'ghost', { capability: 'juggling' }] }))).toEqual([
      { path: '$.steps[1].participants[1]', message: 'unknown agent "ghost"' },
      { path: '$.steps[1].participants[2].capability', message: 'no active agent has the capability "juggling"' },
    ]);
  });

  it('says what a bad group spec lacks or mixes up', () => {
    expect(problemsOf(withGroup({ agent: 'writer' }))).toEqual([
      { path: '$.steps[1].participants', message: 'group steps need participants (2 to 10 agents or capabilities)' },
      { path: '$.steps[1].agent', message: "a group step's agents are its participants: remove agent" },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'writer'] }))).toEqual([
      {
        path: '$.steps[1].participants[1]',
        message: 'two participants are named "writer" (also $.steps[1].participants[0]): give one a name',
      },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', { agent: 'critic', capability: 'review' }, {}] }))).toEqual([
      { path: '$.steps[1].participants[1].capability', message: 'name either an agent or a capability, not both' },
      { path: '$.steps[1].participants[2]', message: 'a participant names an agent or a capability' },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', { agent: 'critic', priority: 1 }], strategy: 'llm' }))).toEqual([
      { path: '$.steps[1].participants[1].priority', message: 'priority only applies with strategy: priority' },
      { path: '$.steps[1].selector', message: 'strategy llm needs a selector agent that names the next speaker' },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'critic'], selector: { agent: 'picker' } }))).toEqual([
      { path: '$.steps[1].selector', message: 'a selector only applies with strategy: llm' },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'critic'], strategy: 'loudest', maxTurns: 0 }))).toEqual([
      { path: '$.steps[1].strategy', message: 'must be one of: round-robin, priority, llm' },
      { path: '$.steps[1].maxTurns', message: 'must be >= 1' },
    ]);
  });

  it('refuses group fields on other steps', () => {
    const doc = { slug: 'x', name: 'x', steps: [{ key: 'a', agent: 'echo', participants: ['writer', 'critic'], maxTurns: 3 }] };
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[0].participants', message: 'participants only applies to group steps (set type: group)' },
      { path: '$.steps[0].maxTurns', message: 'maxTurns only applies to group steps (set type: group)' },
    ]);
  });

  it('lets a termination condition read only the transcript, and nothing else read group.*', () => {
    expect(
      problemsOf(withGroup({ participants: ['writer', 'critic'], termination: { condition: '{{ steps.brief.output.done }}' } })),
    ).toEqual([
      {
        path: '$.steps[1].termination.condition',
        message: '"{{ steps.brief.output.done }}": a termination condition reads only group.transcript, group.last and group.turn',
      },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'critic'], termination: { condition: 'done' } }))).toEqual([
      { path: '$.steps[1].termination.condition', message: 'a termination condition is a template, e.g. "{{ group.last.output.done }}"' },
    ]);
    expect(problemsOf(withGroup({ participants: ['writer', 'critic'], termination: { condition: '{{ group.speakers }}' } }))).toEqual([
      {
        path: '$.steps[1].termination.condition',
        message: 'bad template path "group.speakers": expected one of group.transcript, group.last, group.turn',
      },
    ]);
    const doc = withGroup({ participants: ['writer', 'critic'] });
    (doc.steps as Doc[])[1].input = { last: '{{ group.last }}' };
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[1].input.last', message: '"{{ group.last }}": group is only defined in the termination condition of a group step' },
    ]);
  });
});
