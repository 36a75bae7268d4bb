import { parseDefinitionSource } from './definition-source.js';
import { instancePathToJsonPath, validateDefinitionDocument } from './definition-validator.js';
import { referencedNames, type DefinitionCatalog } from './definition-checks.js';

const catalog: DefinitionCatalog = { agents: new Set(['summarizer', 'supabase-agent']), activeDefinitions: new Set(['regional-report']) };

type Doc = Record<string, unknown>;

/** A valid definition to break one field at a time. */
function base(): Doc {
  return {
    slug: 'kpi-tracking',
    name: 'KPI tracking',
    input: { type: 'object', required: ['quarter'], properties: { quarter: { type: 'string' } } },
    defaults: { retry: { maxAttempts: 3, backoff: 'exponential', initialDelayMs: 200, maxDelayMs: 30000, jitter: true }, timeoutMs: 60000 },
    concurrency: 4,
    steps: [
      { key: 'fetch_metrics', agent: 'supabase-agent', input: { query: 'kpi_by_quarter', params: { quarter: '{{ input.quarter }}' } } },
      {
        key: 'analyze',
        agent: 'summarizer',
        dependsOn: ['fetch_metrics'],
        input: { rows: '{{ steps.fetch_metrics.output.rows }}' },
        approval: { prompt: 'Approve?', timeoutMs: 86400000, onTimeout: 'abort', payload: { report: '{{ steps.analyze.output.report }}' } },
      },
      {
        key: 'summarize',
        agent: 'echo',
        dependsOn: ['analyze'],
        input: { text: '{{ steps.analyze.output.report }}', q: '{{ steps.fetch_metrics.output.q }}' },
      },
      {
        key: 'per_region',
        type: 'orchestration',
        orchestration: 'regional-report',
        forEach: '{{ input.regions }}',
        dependsOn: ['fetch_metrics'],
      },
    ],
    output: { summary: '{{ steps.summarize.output.text }}', regions: '{{ steps.per_region.output }}' },
  };
}

const steps = (doc: Doc) => doc.steps as Doc[];
const validate = (doc: unknown, known: DefinitionCatalog = catalog) => validateDefinitionDocument(doc, known);
const problemsOf = (doc: unknown) => validate(doc).problems.map((p) => ({ path: p.path, message: p.message }));

describe('validateDefinitionDocument', () => {
  it('accepts the DESIGN.md example and returns the spec unchanged', () => {
    const doc = base();
    const report = validate(doc);
    expect(report).toEqual({ valid: true, problems: [], spec: doc });
  });

  it('accepts every documented field', () => {
    const doc = base();
    doc.description = 'all the fields';
    doc.compensate = true;
    steps(doc)[0] = {
      ...steps(doc)[0],
      type: 'agent',
      retry: { maxAttempts: 100, backoff: 'fixed', initialDelayMs: 0, maxDelayMs: 10, jitter: false, nonRetryable: ['ValidationError'] },
      timeoutMs: 1000,
      reversible: true,
      rollback: { agent: 'echo', input: { undo: '{{ steps.fetch_metrics.output.id }}' }, timeoutMs: 500 },
      fallbackAgents: ['summarizer', 'echo'],
    };
    steps(doc).push({
      key: 'sign_off',
      type: 'approval',
      dependsOn: ['summarize'],
      approval: {
        prompt: 'Sign off?',
        decisions: ['continue', 'abort'],
        roles: ['approver'],
        assignees: ['cfo@example.com', 'ceo@example.com'],
        quorum: 2,
        escalateAfterMs: 3600000,
        modificationsSchema: { type: 'object', properties: { note: { type: 'string' } } },
      },
    });
    expect(validate(doc).problems).toEqual([]);
  });

  describe('schema problems, with JSON paths', () => {
    it('reports missing required fields at the missing field', () => {
      expect(problemsOf({ steps: [{ agent: 'echo' }] })).toEqual(
        expect.arrayContaining([
          { path: '$.slug', message: 'required field "slug" is missing' },
          { path: '$.name', message: 'required field "name" is missing' },
          { path: '$.steps[0].key', message: 'required field "key" is missing' },
        ]),
      );
    });

    it('rejects unknown top-level and step fields', () => {
      const doc = base();
      doc.stepz = [];
      steps(doc)[1].dependson = ['fetch_metrics'];
      expect(problemsOf(doc)).toEqual([
        { path: '$.stepz', message: 'unknown field "stepz"' },
        { path: '$.steps[1].dependson', message: 'unknown field "dependson"' },
      ]);
    });

    it('checks patterns, enums and bounds', () => {
      const doc = base();
      doc.slug = 'KPI Tracking';
      doc.concurrency = 0;
      steps(doc)[0].key = '1st';
      steps(doc)[0].type = 'robot';
      steps(doc)[1].retry = { maxAttempts: 101, backoff: 'linear' };
      (steps(doc)[1].approval as Doc).onTimeout = 'explode';
      const problems = problemsOf(doc);
      expect(problems).toEqual(
        expect.arrayContaining([
          { path: '$.slug', message: expect.stringContaining('must match pattern') },
          { path: '$.concurrency', message: 'must be >= 1' },
          { path: '$.steps[0].key', message: expect.stringContaining('must match pattern') },
          { path: '$.steps[0].type', message: 'must be one of: agent, orchestration, approval, group' },
          { path: '$.steps[1].retry.maxAttempts', message: 'must be <= 100' },
          { path: '$.steps[1].retry.backoff', message: 'must be one of: exponential, fixed' },
          { path: '$.steps[1].approval.onTimeout', message: 'must be one of: abort, continue, skip' },
        ]),
      );
    });

    it('requires at least one step', () => {
      const doc = base();
      doc.steps = [];
      delete doc.output;
      expect(problemsOf(doc)).toEqual([{ path: '$.steps', message: 'must NOT have fewer than 1 items' }]);
    });
  });

  it('reports duplicate step keys', () => {
    const doc = base();
    steps(doc)[2].key = 'analyze';
    expect(problemsOf(doc)).toContainEqual({ path: '$.steps[2].key', message: 'duplicate step key "analyze" (also $.steps[1])' });
  });

  it('reports unknown agents, including fallback and rollback agents; built-ins are always known', () => {
    const doc = base();
    steps(doc)[0].agent = 'ghost';
    steps(doc)[1].fallbackAgents = ['echo', 'phantom'];
    steps(doc)[2] = { ...steps(doc)[2], reversible: true, rollback: { agent: 'specter' } };
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[0].agent', message: 'unknown agent "ghost"' },
      { path: '$.steps[1].fallbackAgents[1]', message: 'unknown agent "phantom"' },
      { path: '$.steps[2].rollback.agent', message: 'unknown agent "specter"' },
    ]);
    expect(referencedNames(doc).agents.sort()).toEqual(['echo', 'ghost', 'phantom', 'specter', 'summarizer']);
  });

  it('reports sub-orchestrations with no active definition, and self-reference', () => {
    const doc = base();
    steps(doc)[3].orchestration = 'nowhere';
    steps(doc).push({ key: 'again', type: 'orchestration', orchestration: 'kpi-tracking' });
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[3].orchestration', message: 'no active definition "nowhere" in this organization' },
      { path: '$.steps[4].orchestration', message: 'a definition cannot run itself as a sub-orchestration ("kpi-tracking")' },
    ]);
    expect(referencedNames(doc).orchestrations).toEqual(['nowhere', 'kpi-tracking']);
  });

  it('reports dependsOn naming unknown steps', () => {
    const doc = base();
    steps(doc)[2].dependsOn = ['analyze', 'analyse'];
    expect(problemsOf(doc)).toEqual([{ path: '$.steps[2].dependsOn[1]', message: 'unknown step "analyse"' }]);
  });

  it('names a dependency cycle, starting from the first step listed', () => {
    const doc = {
      slug: 'loop',
      name: 'Loop',
      steps: [
        { key: 'a', agent: 'echo', dependsOn: ['b'] },
        { key: 'b', agent: 'echo', dependsOn: ['c'] },
        { key: 'c', agent: 'echo', dependsOn: ['a'] },
      ],
    };
    expect(problemsOf(doc)).toEqual([{ path: '$.steps[0].dependsOn[0]', message: 'dependency cycle: a -> b -> c -> a' }]);
  });

  it('names each separate cycle once, self-dependencies included', () => {
    const doc = {
      slug: 'loops',
      name: 'Loops',
      steps: [
        { key: 'start', agent: 'echo' },
        { key: 'x', agent: 'echo', dependsOn: ['start', 'y'] },
        { key: 'y', agent: 'echo', dependsOn: ['x'] },
        { key: 'me', agent: 'echo', dependsOn: ['me'] },
      ],
    };
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[1].dependsOn[1]', message: 'dependency cycle: x -> y -> x' },
      { path: '$.steps[3].dependsOn[0]', message: 'dependency cycle: me -> me' },
    ]);
  });

  it('reports templates reading steps that are not upstream, or unknown', () => {
    const doc = base();
    // summarize may read fetch_metrics (transitively upstream) but not per_region (a sibling branch).
    (steps(doc)[2].input as Doc).regions = '{{ steps.per_region.output }}';
    (steps(doc)[0].input as Doc).self = '{{ steps.fetch_metrics.output }}';
    steps(doc)[3].forEach = '{{ steps.summarize.output.list }}';
    doc.output = { x: '{{ steps.nope.output }}' };
    (steps(doc)[1].approval as Doc).payload = { later: '{{ steps.summarize.output }}' };
    expect(problemsOf(doc)).toEqual([
      {
        path: '$.steps[0].input.self',
        message:
          'template "{{ steps.fetch_metrics.output }}" reads step "fetch_metrics", which is not upstream of "fetch_metrics" (add it to dependsOn)',
      },
      {
        path: '$.steps[1].approval.payload.later',
        message: 'template "{{ steps.summarize.output }}" reads step "summarize", which is not upstream of "analyze" (add it to dependsOn)',
      },
      {
        path: '$.steps[2].input.regions',
        message:
          'template "{{ steps.per_region.output }}" reads step "per_region", which is not upstream of "summarize" (add it to dependsOn)',
      },
      {
        path: '$.steps[3].forEach',
        message:
          'template "{{ steps.summarize.output.list }}" reads step "summarize", which is not upstream of "per_region" (add it to dependsOn)',
      },
      { path: '$.output.x', message: 'template "{{ steps.nope.output }}" reads unknown step "nope"' },
    ]);
  });

  it('reports template syntax problems at the string that holds them', () => {
    const doc = base();
    (steps(doc)[0].input as Doc).bad = '{{ input.quarter';
    (steps(doc)[0].input as Doc).root = '{{ secrets.key }}';
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[0].input.bad', message: 'unbalanced braces: "{{" is never closed' },
      { path: '$.steps[0].input.root', message: expect.stringContaining('unknown root "secrets"') },
    ]);
  });

  it('reports an input schema or modifications schema that does not compile', () => {
    const doc = base();
    doc.input = { type: 'objekt' };
    (steps(doc)[1].approval as Doc).modificationsSchema = { type: 'object', properties: { n: { minimum: 'one' } } };
    const problems = problemsOf(doc);
    expect(problems).toEqual([
      { path: '$.input', message: expect.stringMatching(/^not a valid JSON Schema: /) },
      { path: '$.steps[1].approval.modificationsSchema', message: expect.stringMatching(/^not a valid JSON Schema: /) },
    ]);
  });

  it('checks what each step type needs', () => {
    const doc = {
      slug: 'shapes',
      name: 'Shapes',
      steps: [
        { key: 'no_agent', input: {} },
        { key: 'no_slug', type: 'orchestration', agent: 'echo' },
        { key: 'gate', type: 'approval', agent: 'echo' },
        { key: 'bad_fan', type: 'orchestration', orchestration: 'regional-report', forEach: 'regions' },
        { key: 'undo', agent: 'echo', reversible: true },
      ],
    };
    expect(problemsOf(doc)).toEqual([
      { path: '$.steps[0].agent', message: 'agent steps need an agent (or a capability to route by)' },
      { path: '$.steps[1].orchestration', message: 'orchestration steps need an orchestration (a definition slug)' },
      { path: '$.steps[1].agent', message: 'orchestration steps run a definition, not an agent' },
      { path: '$.steps[2].approval', message: 'approval steps need an approval block' },
      { path: '$.steps[2].agent', message: 'approval steps call nothing: remove agent' },
      { path: '$.steps[3].forEach', message: 'forEach must be one template that yields an array, e.g. "{{ input.regions }}"' },
      { path: '$.steps[4].rollback', message: 'reversible steps need a rollback' },
    ]);
  });

  it('reports every kind of problem at once', () => {
    const doc = base();
    doc.extra = true;
    steps(doc)[0].agent = 'ghost';
    steps(doc)[2].dependsOn = ['analyze', 'missing'];
    steps(doc)[3].key = 'analyze';
    const paths = validate(doc).problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['$.extra', '$.steps[0].agent', '$.steps[2].dependsOn[1]', '$.steps[3].key']));
    expect(validate(doc).valid).toBe(false);
  });

  it('survives documents that are not objects', () => {
    expect(validate('nope').problems).toEqual([{ path: '$', message: 'must be object', code: 'schema' }]);
    expect(validate({ slug: 'x', name: 'x', steps: [null, 3, { key: 'a', agent: 'echo', dependsOn: 'b' }] }).valid).toBe(false);
  });
});

describe('parseDefinitionSource', () => {
  it('parses YAML and JSON text, and takes objects as they are', () => {
    const yaml = 'slug: a\nname: A\nsteps:\n  - key: s\n    agent: echo\n    input: { text: "{{ input.x }}" }\n';
    expect(parseDefinitionSource(yaml)).toEqual({
      document: { slug: 'a', name: 'A', steps: [{ key: 's', agent: 'echo', input: { text: '{{ input.x }}' } }] },
      problems: [],
    });
    expect(parseDefinitionSource('{"slug": "a", "steps": []}').document).toEqual({ slug: 'a', steps: [] });
    const object = { slug: 'a' };
    expect(parseDefinitionSource(object).document).toBe(object);
  });

  it.each([
    ['slug: a\n  name: [unclosed', /^not valid YAML or JSON: /],
    ['slug: a\nslug: b\n', /^not valid YAML or JSON: .*unique/i],
    ['---\nslug: a\n---\nslug: b\n', /^not valid YAML or JSON: /],
    ['', /empty/],
    ['- a\n- b\n', /must be an object.*got an array/],
    ['just text', /must be an object.*got a string/],
    [undefined, /must be an object.*got nothing/],
    [42, /must be an object.*got a number/],
  ])('reports %j as one problem at $', (raw, message) => {
    const { document, problems } = parseDefinitionSource(raw);
    expect(document).toBeUndefined();
    expect(problems).toEqual([{ path: '$', message: expect.stringMatching(message), code: 'syntax' }]);
  });

  it('refuses values JSON cannot carry', () => {
    expect(parseDefinitionSource('slug: a\nlimit: .inf\n').problems).toEqual([
      { path: '$.limit', message: 'Infinity is not a JSON number', code: 'syntax' },
    ]);
  });
});

describe('instancePathToJsonPath', () => {
  it('turns JSON pointers into JSON paths', () => {
    expect(instancePathToJsonPath('')).toBe('$');
    expect(instancePathToJsonPath('/steps/1/key')).toBe('$.steps[1].key');
    expect(instancePathToJsonPath('/input/a~1b/c~0d')).toBe('$.input["a/b"]["c~d"]');
  });
});

describe('capability routing fields', () => {
  const withCapabilities: DefinitionCatalog = { ...catalog, capabilities: new Set(['summarize']) };
  const doc = (step: Record<string, unknown>) => ({ slug: 'cap', name: 'cap', steps: [{ key: 'a', ...step }] });
  const problems = (d: unknown) => validate(d, withCapabilities).problems.map((p) => ({ path: p.path, code: p.code }));

  it('accepts a step that names a capability an active agent has, and fallback on an agent step', () => {
    expect(validate(doc({ capability: 'summarize' }), withCapabilities)).toMatchObject({ valid: true });
    expect(validate(doc({ agent: 'summarizer', fallback: 'capability' }), withCapabilities)).toMatchObject({ valid: true });
  });

  it('refuses an unknown capability, agent and capability together, and routing fields on other step types', () => {
    expect(problems(doc({ capability: 'translate' }))).toEqual([{ path: '$.steps[0].capability', code: 'unknown_capability' }]);
    expect(problems(doc({ agent: 'summarizer', capability: 'summarize' }))).toEqual([{ path: '$.steps[0].capability', code: 'step_shape' }]);
    expect(problems(doc({ capability: 'summarize', fallback: 'capability' }))).toEqual([{ path: '$.steps[0].fallback', code: 'step_shape' }]);
    expect(problems(doc({ type: 'approval', approval: { prompt: 'ok?' }, capability: 'summarize' }))).toEqual([
      { path: '$.steps[0].capability', code: 'step_shape' },
    ]);
    expect(problems(doc({ capability: 'Bad Name' }))).toEqual(expect.arrayContaining([{ path: '$.steps[0].capability', code: 'schema' }]));
    expect(problems(doc({ agent: 'summarizer', fallback: 'anyone' }))).toEqual([{ path: '$.steps[0].fallback', code: 'schema' }]);
  });
});
