import type { JsonValue } from './definition-spec.js';
import { extractTemplateReferences, jsonPathChild, renderTemplate, TemplateError, type TemplateContext } from './template.js';

describe('extractTemplateReferences', () => {
  it('finds every reference with the JSON path of its string, its root and its step key', () => {
    const spec: JsonValue = {
      steps: [
        { key: 'fetch', input: { quarter: '{{ input.quarter }}' } },
        { key: 'analyze', input: { rows: '{{steps.fetch.output.rows}}', who: 'run {{ run.id }} of {{ run.organizationId }}' } },
      ],
    };
    const { references, problems } = extractTemplateReferences(spec);
    expect(problems).toEqual([]);
    expect(references).toEqual([
      { path: '$.steps[0].input.quarter', expression: 'input.quarter', root: 'input' },
      { path: '$.steps[1].input.rows', expression: 'steps.fetch.output.rows', root: 'steps', stepKey: 'fetch' },
      { path: '$.steps[1].input.who', expression: 'run.id', root: 'run' },
      { path: '$.steps[1].input.who', expression: 'run.organizationId', root: 'run' },
    ]);
  });

  it('starts paths at the base path and quotes keys that are not identifiers', () => {
    const { references } = extractTemplateReferences({ 'odd key': ['{{ input }}'] }, '$.steps[2].input');
    expect(references).toEqual([{ path: '$.steps[2].input["odd key"][0]', expression: 'input', root: 'input' }]);
  });

  it('accepts index and quoted-name segments after the root', () => {
    const { references, problems } = extractTemplateReferences(`{{ steps.a.output.x[0]["b c"]['d'].e-f }}`);
    expect(problems).toEqual([]);
    expect(references).toEqual([{ path: '$', expression: `steps.a.output.x[0]["b c"]['d'].e-f`, root: 'steps', stepKey: 'a' }]);
  });

  it('ignores object keys and non-string values', () => {
    expect(extractTemplateReferences({ '{{ input.a }}': 1, n: 2, b: true, z: null })).toEqual({ references: [], problems: [] });
  });

  it.each([
    ['{{ input.a', 'template_unbalanced', /never closed/],
    ['input.a }}', 'template_unbalanced', /without a matching/],
    ['{{ input.{{ a }} }}', 'template_unbalanced', /inside a template/],
    ['{{ }}', 'template_empty', /empty template expression/],
    ['{{ input..a }}', 'template_path', /bad template path/],
    ['{{ input.a[x] }}', 'template_path', /bad template path/],
    ['{{ input.a + 1 }}', 'template_path', /bad template path/],
    ['{{ 1 + 1 }}', 'template_path', /bad template path/],
    ['{{ env.SECRET }}', 'template_root', /unknown root "env"/],
    ['{{ steps.fetch.rows }}', 'template_path', /steps\.<key>\.output/],
    ['{{ steps.fetch }}', 'template_path', /steps\.<key>\.output/],
    ['{{ steps[0].output }}', 'template_path', /steps\.<key>\.output/],
    ['{{ run.secret }}', 'template_path', /run\.id/],
    ['{{ input.__proto__.polluted }}', 'template_forbidden', /__proto__/],
    ['{{ input.constructor }}', 'template_forbidden', /constructor/],
    ['{{ steps.a.output["prototype"] }}', 'template_forbidden', /prototype/],
  ])('reports %s as a problem (%s)', (text, code, message) => {
    const { references, problems } = extractTemplateReferences({ field: text }, '$.steps[3].input');
    expect(references).toEqual([]);
    expect(problems).toEqual([{ path: '$.steps[3].input.field', code, message: expect.stringMatching(message) }]);
  });

  it('reports a problem per bad string and still collects the good references', () => {
    const { references, problems } = extractTemplateReferences(['{{ input.a }}', '{{ nope }}', '{{ input.b', '{{ steps.x.output }}']);
    expect(references.map((r) => r.path)).toEqual(['$[0]', '$[3]']);
    expect(problems.map((p) => p.path)).toEqual(['$[1]', '$[2]']);
  });
});

describe('renderTemplate', () => {
  const context: TemplateContext = {
    input: { quarter: '2025-Q1', regions: ['eu', 'us'], count: 3, nested: { a: { b: [10, { c: 'deep' }] } }, nothing: null },
    steps: {
      fetch: { output: { rows: [{ kpi: 'revenue', value: 12 }], total: 1 } },
      skipped: { output: null },
    },
    run: { id: 'run-1', organizationId: 'org-1' },
  };

  it('yields the referenced value itself when the string is exactly one template', () => {
    expect(renderTemplate('{{ steps.fetch.output.rows }}', context)).toEqual([{ kpi: 'revenue', value: 12 }]);
    expect(renderTemplate('{{input.count}}', context)).toBe(3);
    expect(renderTemplate('{{ input.regions }}', context)).toEqual(['eu', 'us']);
    expect(renderTemplate('{{ input }}', context)).toBe(context.input);
    expect(renderTemplate('{{ input.nested.a.b[1].c }}', context)).toBe('deep');
    expect(renderTemplate('{{ run.id }}', context)).toBe('run-1');
  });

  it('interpolates when text and templates mix: objects as JSON, null as empty', () => {
    expect(renderTemplate('Q={{ input.quarter }}, n={{ input.count }}', context)).toBe('Q=2025-Q1, n=3');
    expect(renderTemplate('regions: {{ input.regions }}', context)).toBe('regions: ["eu","us"]');
    expect(renderTemplate('[{{ input.nothing }}] [{{ input.missing }}]', context)).toBe('[] []');
    expect(renderTemplate(' {{ run.organizationId }} ', context)).toBe(' org-1 ');
  });

  it('recurses through arrays and objects and leaves keys and other values alone', () => {
    const value = {
      '{{ input.quarter }}': '{{ input.quarter }}',
      list: ['{{ input.count }}', 7, true, null],
      deep: { rows: '{{ steps.fetch.output.total }}' },
    };
    expect(renderTemplate(value, context)).toEqual({ '{{ input.quarter }}': '2025-Q1', list: [3, 7, true, null], deep: { rows: 1 } });
  });

  it('yields null through null or missing properties, like optional chaining', () => {
    expect(renderTemplate('{{ steps.skipped.output.report }}', context)).toBeNull();
    expect(renderTemplate('{{ steps.skipped.output }}', context)).toBeNull();
    expect(renderTemplate('{{ input.missing.deeper[3].x }}', context)).toBeNull();
    expect(renderTemplate('{{ input.regions[9] }}', context)).toBeNull();
    expect(renderTemplate('{{ input.quarter.x }}', context)).toBeNull();
    expect(renderTemplate('{{ run.id }}', { input: null, steps: {} })).toBeNull();
  });

  it('throws a TemplateError with path and expression for a step the context does not hold', () => {
    const render = () => renderTemplate({ a: ['{{ steps.later.output.x }}'] }, context);
    expect(render).toThrow(TemplateError);
    try {
      render();
    } catch (error) {
      expect(error).toMatchObject({ path: '$.a[0]', expression: 'steps.later.output.x', message: expect.stringContaining('"later"') });
    }
  });

  it('throws a TemplateError for unknown roots and bad syntax', () => {
    expect(() => renderTemplate('{{ process.env.HOME }}', context)).toThrow(/unknown root "process"/);
    expect(() => renderTemplate('{{ input.a', context)).toThrow(TemplateError);
    expect(() => renderTemplate('{{ }}', context)).toThrow(TemplateError);
  });

  it('never reads prototypes: forbidden segments throw, inherited properties are absent', () => {
    expect(() => renderTemplate('{{ input.__proto__ }}', context)).toThrow(/__proto__/);
    expect(() => renderTemplate('{{ input.constructor.name }}', context)).toThrow(TemplateError);
    expect(renderTemplate('{{ input.toString }}', context)).toBeNull();
    expect(renderTemplate('{{ input.hasOwnProperty }}', context)).toBeNull();
  });

  it('keeps a "__proto__" key of the data as a plain property', () => {
    const data = JSON.parse('{"__proto__": {"polluted": "{{ input.quarter }}"}}');
    const rendered = renderTemplate(data, context) as Record<string, unknown>;
    expect(Object.getPrototypeOf(rendered)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(rendered, '__proto__')?.value).toEqual({ polluted: '2025-Q1' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('jsonPathChild', () => {
  it('builds dotted, indexed and quoted paths', () => {
    expect(jsonPathChild('$', 'steps')).toBe('$.steps');
    expect(jsonPathChild('$.steps', 1)).toBe('$.steps[1]');
    expect(jsonPathChild('$', 'a-b')).toBe('$["a-b"]');
  });
});

// The engine's first expectations of the template language (kept as written when the engine adopted it).
describe('template language as the engine uses it', () => {
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
      expect(
        renderTemplate(
          { q: 'quarter={{ input.quarter }} n={{ input.n }}', list: ['{{ run.id }}', 'x'], k: { deep: '{{ input.regions }}' } },
          context,
        ),
      ).toEqual({
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
      const { references, problems } = extractTemplateReferences(
        { a: '{{ steps.fetch.output.rows }}', b: ['x {{ input.q }}'], c: '{{ }}', d: '{{ steps.x.input }}', e: '{{ oops' },
        '$.steps[1].input',
      );
      expect(references).toEqual([
        { path: '$.steps[1].input.a', expression: 'steps.fetch.output.rows', root: 'steps', stepKey: 'fetch' },
        { path: '$.steps[1].input.b[0]', expression: 'input.q', root: 'input' },
      ]);
      expect(problems.map((p) => p.path)).toEqual(['$.steps[1].input.c', '$.steps[1].input.d', '$.steps[1].input.e']);
    });
  });
});
