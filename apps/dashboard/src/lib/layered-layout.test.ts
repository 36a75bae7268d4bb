import { describe, expect, it } from 'vitest';
import { layeredLayout } from './layered-layout';
import type { DagLayout } from './layout';

const S = { nodeWidth: 190, nodeHeight: 46, nodesep: 16, ranksep: 56, margin: 12 };
const key = (i: number) => `s${String(i).padStart(3, '0')}`;
/** The browser suite's run: 20 layers of 10, each step after the one above it and its neighbour. */
const stages = Array.from({ length: 200 }, (_, i) => ({ key: key(i), dependsOn: i < 10 ? [] : [key(i - 10), ...(i % 10 ? [key(i - 11)] : [])] }));
const at = (dag: DagLayout, k: string) => dag.nodes.find((n) => n.key === k)!;

/** Two nodes overlap when their boxes do (node boxes are centred on x, y). */
function overlaps(dag: DagLayout): string[] {
  const found: string[] = [];
  for (const [i, a] of dag.nodes.entries())
    for (const b of dag.nodes.slice(i + 1)) if (Math.abs(a.x - b.x) < S.nodeWidth && Math.abs(a.y - b.y) < S.nodeHeight + S.nodesep - 1e-6) found.push(`${a.key}/${b.key}`);
  return found;
}

describe('layeredLayout', () => {
  it('lays 200 steps out as their stages: a column per layer, no overlap, every edge left to right, inside the drawing', () => {
    const dag = layeredLayout(stages, S);
    expect(dag.nodes.map((n) => n.key)).toEqual(stages.map((s) => s.key));
    expect(new Set(dag.nodes.map((n) => n.x)).size).toBe(20);
    for (const n of dag.nodes) expect(n.x).toBe(at(dag, key(Number(n.key.slice(1)) % 10)).x + Math.floor(Number(n.key.slice(1)) / 10) * (S.nodeWidth + S.ranksep));
    expect(overlaps(dag)).toEqual([]);
    expect(dag.edges).toHaveLength(190 + 171);
    for (const e of dag.edges) {
      expect(e.points.at(-1)!.x).toBeGreaterThan(e.points[0]!.x);
      for (const p of e.points) expect(p.x >= 0 && p.x <= dag.width && p.y >= 0 && p.y <= dag.height).toBe(true);
    }
    for (const n of dag.nodes) expect(n.y - S.nodeHeight / 2).toBeGreaterThanOrEqual(S.margin - 1e-9);
    // A step right after the one above it stays on its row: the grid is not skewed.
    expect(at(dag, 's190').y).toBeCloseTo(at(dag, 's000').y);
    expect(at(dag, 's199').y).toBeCloseTo(at(dag, 's009').y);
  });

  it('orders a layer by its dependencies, removing a crossing the input order has', () => {
    const dag = layeredLayout(
      [
        { key: 'a', dependsOn: [] },
        { key: 'b', dependsOn: [] },
        { key: 'c', dependsOn: ['b'] },
        { key: 'd', dependsOn: ['a'] },
      ],
      S,
    );
    expect(at(dag, 'a').y).toBeLessThan(at(dag, 'b').y);
    expect(at(dag, 'd').y).toBeLessThan(at(dag, 'c').y);
  });

  it('routes an edge that skips layers around the steps of the layers it crosses', () => {
    const dag = layeredLayout(
      [
        { key: 'a', dependsOn: [] },
        { key: 'b', dependsOn: ['a'] },
        { key: 'c', dependsOn: ['b', 'a'] },
      ],
      S,
    );
    const long = dag.edges.find((e) => e.from === 'a' && e.to === 'c')!;
    const b = at(dag, 'b');
    const inB = long.points.filter((p) => Math.abs(p.x - b.x) <= S.nodeWidth / 2);
    expect(inB).toHaveLength(2);
    for (const p of inB) expect(Math.abs(p.y - b.y)).toBeGreaterThanOrEqual(S.nodeHeight / 2 + S.nodesep);
    expect(at(dag, 'c').x).toBeGreaterThan(b.x);
  });

  it('survives a cycle, a duplicate and an unknown dependency, and an empty graph', () => {
    const dag = layeredLayout(
      [
        { key: 'a', dependsOn: ['b'] },
        { key: 'b', dependsOn: ['a', 'a'] },
        { key: 'c', dependsOn: ['ghost', 'c'] },
      ],
      S,
    );
    expect(dag.nodes).toHaveLength(3);
    expect(dag.edges).toHaveLength(2);
    for (const n of dag.nodes) expect(Number.isFinite(n.x) && Number.isFinite(n.y)).toBe(true);
    expect(overlaps(dag)).toEqual([]);
    expect(layeredLayout([], S)).toEqual({ nodes: [], edges: [], width: 0, height: 0 });
  });
});
