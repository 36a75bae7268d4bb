import { Graph, layout } from '@dagrejs/dagre';

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 46;

export interface LaidOutNode {
  key: string;
  x: number;
  y: number;
}

export interface LaidOutEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface DagLayout {
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  width: number;
  height: number;
}

/**
 * Lays a run's steps out left to right with dagre (x, y are node centres). Depends only on the graph's shape,
 * so callers memoize it on the keys and dependencies and live state changes never re-run it.
 */
export function layoutDag(steps: { key: string; dependsOn: string[] }[]): DagLayout {
  const started = performance.now();
  const graph = new Graph();
  // longest-path ranks in about half the time of the default network simplex on a 200-step graph, with layers as good
  // for DAGs written as stages (edges may grow longer, which a left-to-right run graph tolerates).
  graph.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 56, marginx: 12, marginy: 12, ranker: 'longest-path' });
  graph.setDefaultEdgeLabel(() => ({}));
  const keys = new Set(steps.map((s) => s.key));
  for (const step of steps) graph.setNode(step.key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const step of steps) for (const dep of step.dependsOn) if (keys.has(dep)) graph.setEdge(dep, step.key);
  layout(graph);
  const label = graph.graph();
  // Visible in the browser's performance timeline (the browser suite reads it for docs/benchmarks.md).
  performance.measure?.('baton:dag-layout', { start: started, detail: { steps: steps.length } });
  return {
    nodes: steps.map((s) => {
      const n = graph.node(s.key);
      return { key: s.key, x: n.x ?? 0, y: n.y ?? 0 };
    }),
    edges: graph.edges().map((e) => ({ from: e.v, to: e.w, points: (graph.edge(e).points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })) })),
    width: label.width ?? 0,
    height: label.height ?? 0,
  };
}

/** A stable key of a graph's shape, for memoizing its layout. */
export function shapeKey(steps: { key: string; dependsOn: string[] }[]): string {
  return steps.map((s) => `${s.key}<${s.dependsOn.join(',')}`).join('|');
}
