import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderByReferences, readDefinitionFiles } from './definition-files.js';

const file = (path: string, text: string) => ({ path, text });

describe('definition files', () => {
  it('puts a sub-orchestration before the definitions that run it, otherwise keeps name order', () => {
    const parent = file('a-parent.yaml', 'slug: parent\nsteps:\n  - key: child\n    type: orchestration\n    orchestration: child\n');
    const child = file('b-child.yaml', 'slug: child\nsteps:\n  - key: x\n    agent: echo\n');
    const other = file('c-other.yaml', 'slug: other\nsteps: []\n');
    expect(orderByReferences([parent, child, other]).map((f) => f.path)).toEqual(['b-child.yaml', 'a-parent.yaml', 'c-other.yaml']);
  });

  it('keeps files that do not parse, and terminates on reference cycles', () => {
    const broken = file('a.yaml', 'slug: [unclosed');
    const ping = file('b.yaml', 'slug: ping\nsteps:\n  - { key: p, orchestration: pong }\n');
    const pong = file('c.yaml', 'slug: pong\nsteps:\n  - { key: p, orchestration: ping }\n');
    expect(
      orderByReferences([broken, ping, pong])
        .map((f) => f.path)
        .sort(),
    ).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
  });

  it('reads a single file, or the YAML and JSON files of a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-defs-'));
    try {
      writeFileSync(join(dir, 'one.yaml'), 'slug: one\n');
      writeFileSync(join(dir, 'two.json'), '{"slug":"two"}');
      writeFileSync(join(dir, 'notes.txt'), 'not a definition');
      expect(readDefinitionFiles(dir).map((f) => f.path)).toEqual([join(dir, 'one.yaml'), join(dir, 'two.json')]);
      expect(readDefinitionFiles(join(dir, 'one.yaml'))).toEqual([{ path: join(dir, 'one.yaml'), text: 'slug: one\n' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
