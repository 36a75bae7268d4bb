import { deepMerge, jsonDiff } from './json-merge.js';

describe('deepMerge', () => {
  it('merges objects recursively and replaces everything else', () => {
    expect(deepMerge({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: 9 }, l: [3], e: 'x' })).toEqual({ a: 1, b: { c: 9, d: 3 }, l: [3], e: 'x' });
    expect(deepMerge(null, { a: 1 })).toEqual({ a: 1 });
    expect(deepMerge({ a: 1 }, undefined)).toEqual({ a: 1 });
    expect(deepMerge({ a: 1 }, 'text')).toBe('text');
  });
});

describe('jsonDiff', () => {
  it('lists added, removed and replaced leaves with paths', () => {
    expect(jsonDiff({ a: 1, b: { c: 2 }, gone: true }, { a: 1, b: { c: 3 }, added: [1] })).toEqual([
      { op: 'add', path: '$.added', to: [1] },
      { op: 'replace', path: '$.b.c', from: 2, to: 3 },
      { op: 'remove', path: '$.gone', from: true },
    ]);
    expect(jsonDiff({ a: 1 }, { a: 1 })).toEqual([]);
  });
});
