import { parse } from 'yaml';
import { jsonDepthExceeds, yamlDepthExceeds } from './body-limits.js';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('body depth limits', () => {
  it('measures parsed JSON without recursion, at any depth', () => {
    expect(jsonDepthExceeds(nested(64), 64)).toBe(false);
    expect(jsonDepthExceeds(nested(65), 64)).toBe(true);
    expect(jsonDepthExceeds(nested(200_000), 64)).toBe(true);
    expect(jsonDepthExceeds('text', 64)).toBe(false);
    expect(jsonDepthExceeds(undefined, 64)).toBe(false);
  });

  it('bounds YAML flow and block nesting before parsing, and lets real definitions through', () => {
    expect(yamlDepthExceeds('a: ' + '['.repeat(100) + ']'.repeat(100), 64)).toBe(true);
    expect(yamlDepthExceeds('a: ' + '{b: '.repeat(70) + '1' + '}'.repeat(70), 64)).toBe(true);
    const block = Array.from({ length: 70 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
    expect(parse(block)).toBeDefined();
    expect(yamlDepthExceeds(block, 64)).toBe(true);
    expect(yamlDepthExceeds('- '.repeat(70) + 'x\n', 64)).toBe(true);
    const definition = [
      'slug: greeting # a comment with [ brackets',
      'name: "Greeting [v1] {"',
      "description: 'it''s [fine'",
      'steps:',
      '  - key: hello',
      '    agent: echo',
      '    input: { text: "${input.name}", list: [1, [2, [3]]] }',
      '    dependsOn: []',
    ].join('\n');
    expect(yamlDepthExceeds(definition, 64)).toBe(false);
    expect(yamlDepthExceeds(definition, 3)).toBe(true);
  });
});
