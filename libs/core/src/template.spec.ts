import { extractTemplateReferences, renderTemplate, TemplateError } from './template.js';

const context = {
  input: { quarter: 'Q3', regions: ['eu', 'us'], n: 2 },
  steps: { fetch: { output: { rows: [{ v: 1 }, { v: 2 }] } }, skipped: { output: null } },
  run: { id: 'r1' },
};

describe('renderTemplate', () => {
  it('returns the referenced value itself for a whole-string template', () => {
    expect(renderTemplate('{{ steps.fetch.output.rows }}', context)).toEqual([{ v: 1 }, { v: 2 }]);
    expect(renderTemplate('{{input.n}}', context)).toBe(2);
    expect(renderTemplate('{{ steps.fetch.output.rows[1].v }}', context)).toBe(2);
  });

  it('interpolates strings that mix text and templates, recursing through objects and arrays', () => {
    expect(renderTemplate({ q: 'quarter={{ input.quarter }} n={{ input.n }}', list: ['{{ run.id }}', 'x'], k: { deep: '{{ input.regions }}' } }, context)).toEqual({
      q: 'quarter=Q3 n=2',
      list: ['r1', 'x'],
      k: { deep: ['eu', 'us'] },
    });
    expect(renderTemplate('rows: {{ steps.fetch.output.rows }}', context)).toBe('rows: [{"v":1},{"v":2}]');
  });

  it('yields null through missing or null values, like optional chaining', () => {
    expect(renderTemplate('{{ steps.skipped.output.report }}', context)).toBeNull();
    expect(renderTemplate('{{ input.nope.deeper }}', context)).toBeNull();
    expect(renderTemplate('a{{ input.nope }}b', context)).toBe('ab');
  });

  it('throws TemplateError with the path for unknown steps and roots, and refuses prototype access', () => {
    expect(() => renderTemplate({ x: ['{{ steps.ghost.output }}'] }, context)).toThrow(TemplateError);
    try {
      renderTemplate({ x: ['{{ steps.ghost.output }}'] }, context);
    } catch (error) {
      expect((error as TemplateError).path).toBe('$.x[0]');
      expect((error as TemplateError).expression).toBe('steps.ghost.output');
    }
    expect(() => renderTemplate('{{ env.SECRET }}', context)).toThrow(/unknown root/);
    expect(() => renderTemplate('{{ input.__proto__ }}', context)).toThrow(/not allowed/);
    expect(() => renderTemplate('{{ input.constructor }}', context)).toThrow(/not allowed/);
  });
});

describe('extractTemplateReferences', () => {
  it('lists references with their JSON paths and reports syntax problems', () => {
    const { references, problems } = extractTemplateReferences({ a: '{{ steps.fetch.output.rows }}', b: ['x {{ input.q }}'], c: '{{ }}', d: '{{ steps.x.input }}', e: '{{ oops' }, '$.steps[1].input');
    expect(references).toEqual([
      { path: '$.steps[1].input.a', expression: 'steps.fetch.output.rows', root: 'steps', stepKey: 'fetch' },
      { path: '$.steps[1].input.b[0]', expression: 'input.q', root: 'input' },
    ]);
    expect(problems.map((p) => p.path)).toEqual(['$.steps[1].input.c', '$.steps[1].input.d', '$.steps[1].input.e']);
  });
});
