import { Graph, layout } from '@dagrejs/dagre';
import { layeredLayout, type Spacing } from './layered-layout';

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 46;
/**
 * Up to this many steps dagre (finer placement) lays the graph out; above, the layered layout. On our 2-core machine
 * dagre took 35-45 ms at 30-50 steps and 110-390 ms at 200, the layered layout a few ms at 200.
 */
export const DAGRE_MAX_STEPS = 40;
const SPACING: Spacing = { nodeWidth: NODE_WIDTH, nodeHeight: NODE_HEIGHT, nodesep: 16, ranksep: 56, margin: 12 };

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
 * Lays a run's steps out left to right (x, y are node centres): with dagre up to DAGRE_MAX_STEPS steps, with our
 * linear layered layout above (same layers, fewer refinements). Depends only on the graph's shape, so callers memoize
 * it on the keys and dependencies and live state changes never re-run it.
 */
export function layoutDag(steps: { key: string; dependsOn: string[] }[]): DagLayout {
  const started = performance.now();
  const method = steps.length > DAGRE_MAX_STEPS ? 'layered' : 'dagre';
  const laidOut = method === 'layered' ? layeredLayout(steps, SPACING) : dagreLayout(steps);
  // Visible in the browser's performance timeline (the browser suite reads it for docs/benchmarks.md).
  performance.measure?.('baton:dag-layout', { start: started, detail: { steps: steps.length, method } });
  return laidOut;
}

function dagreLayout(steps: { key: string; dependsOn: string[] }[]): DagLayout {
  const graph = new Graph();
  // longest-path ranks in about half the time of the default network simplex, with layers as good for DAGs written as
  // stages (edges may grow longer, which a left-to-right run graph tolerates).
  graph.setGraph({ rankdir: 'LR', nodesep: SPACING.nodesep, ranksep: SPACING.ranksep, marginx: SPACING.margin, marginy: SPACING.margin, ranker: 'longest-path' });
  graph.setDefaultEdgeLabel(() => ({}));
  const keys = new Set(steps.map((s) => s.key));
  for (const step of steps) graph.setNode(step.key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const step of steps) for (const dep of step.dependsOn) if (keys.has(dep)) graph.setEdge(dep, step.key);
  layout(graph);
  const label = graph.graph();
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
