import { parse } from 'yaml';
import type { DefinitionSpec } from '#core';
import { canonicalJson, diffDefinitions, sameJson } from './definition-diff.js';
import { definitionToYaml, orderDefinitionSpec } from './definition-format.js';

const v1: DefinitionSpec = {
  slug: 'flow',
  name: 'Flow',
  concurrency: 2,
  steps: [
    { key: 'a', agent: 'echo', input: { x: 1 } },
    { key: 'b', agent: 'echo', dependsOn: ['a'] },
    { key: 'c', agent: 'sleep', input: { ms: 10 } },
  ],
};

const v2: DefinitionSpec = {
  slug: 'flow',
  name: 'Flow, renamed',
  description: 'now described',
  concurrency: 2,
  steps: [
    { key: 'a', input: { x: 1 }, agent: 'echo' },
    { key: 'b', agent: 'flaky', dependsOn: ['a'], timeoutMs: 500 },
    { key: 'd', agent: 'echo', dependsOn: ['b'] },
  ],
};

describe('sameJson', () => {
  it('ignores key order but not array order or values', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(canonicalJson({ b: 1, a: { d: 2, c: 'x' } })).toBe('{"a":{"c":"x","d":2},"b":1}');
  });
});

describe('diffDefinitions', () => {
  it('lists added, removed and changed steps with the fields that changed, and top-level changes', () => {
    expect(diffDefinitions('flow', { version: 1, spec: v1 }, { version: 2, spec: v2 })).toEqual({
      slug: 'flow',
      from: 1,
      to: 2,
      added: ['d'],
      removed: ['c'],
      changed: [{ key: 'b', fields: ['agent', 'timeoutMs'] }],
      definitionChanges: ['description', 'name'],
    });
  });

  it('is empty for identical versions', () => {
    expect(diffDefinitions('flow', { version: 1, spec: v1 }, { version: 3, spec: structuredClone(v1) })).toMatchObject({
      added: [],
      removed: [],
      changed: [],
      definitionChanges: [],
    });
  });
});

describe('definition format', () => {
  it('puts fields back in the documented order without changing values', () => {
    const scrambled = JSON.parse(
      '{"steps":[{"input":{"b":1,"a":2},"key":"a","agent":"echo"}],"name":"Flow","slug":"flow"}',
    ) as DefinitionSpec;
    const ordered = orderDefinitionSpec(scrambled);
    expect(Object.keys(ordered)).toEqual(['slug', 'name', 'steps']);
    expect(Object.keys(ordered.steps[0])).toEqual(['key', 'agent', 'input']);
    expect(Object.keys(ordered.steps[0].input as object)).toEqual(['b', 'a']);
    expect(ordered).toEqual(scrambled);
  });

  it('renders YAML that parses back to the same definition', () => {
    const text = definitionToYaml(v2);
    expect(text.startsWith('slug: flow\nname: Flow, renamed\n')).toBe(true);
    expect(parse(text)).toEqual(v2);
  });
});
