import type { DagLayout } from './layout';

export interface Spacing {
  nodeWidth: number;
  nodeHeight: number;
  /** Between two nodes of one layer. */
  nodesep: number;
  /** Between two layers. */
  ranksep: number;
  margin: number;
}

const ORDER_SWEEPS = 8;
const PLACEMENT_PASSES = 4;

/**
 * A layered left-to-right layout for graphs too big for dagre to lay out within a frame (dagre took 110-390 ms on
 * a 200-step run on our 2-core machine; this takes a few). Same steps as dagre's, each linear or n log n per sweep:
 * layers by longest path from the sources (a step one layer right of its latest dependency), a virtual node in every
 * layer a long edge crosses, the order within layers by barycentre sweeps keeping the order with the fewest
 * crossings, then each node pulled toward the median height of its neighbours with the order and spacing kept.
 * Nodes come back in the order of `steps`; a dependency on an unknown key is ignored, and an edge of a cycle (which a
 * valid definition cannot have) is drawn straight.
 */
export function layeredLayout(steps: { key: string; dependsOn: string[] }[], s: Spacing): DagLayout {
  const n = steps.length;
  const index = new Map(steps.map((step, i) => [step.key, i]));
  const edges: [number, number][] = [];
  const preds: number[][] = steps.map(() => []);
  const succs: number[][] = steps.map(() => []);
  steps.forEach((step, v) => {
    for (const dep of new Set(step.dependsOn)) {
      const u = index.get(dep);
      if (u === undefined || u === v) continue;
      edges.push([u, v]);
      preds[v]!.push(u);
      succs[u]!.push(v);
    }
  });

  const layerOf = longestPathLayers(preds, succs);
  // Vertices: the steps (0..n-1), then a virtual one per layer crossed by a long edge. up/down: neighbours in the
  // layer before and after, by the edge segments between adjacent layers.
  const vLayer = [...layerOf];
  const up: number[][] = steps.map(() => []);
  const down: number[][] = steps.map(() => []);
  const chains: number[][] = [];
  for (const [u, v] of edges) {
    const chain: number[] = [];
    if (layerOf[v]! <= layerOf[u]!) {
      chains.push(chain); // an edge of a cycle: no segments, drawn straight
      continue;
    }
    let last = u;
    for (let l = layerOf[u]! + 1; l < layerOf[v]!; l++) {
      const dummy = vLayer.length;
      vLayer.push(l);
      up.push([last]);
      down.push([]);
      down[last]!.push(dummy);
      chain.push(dummy);
      last = dummy;
    }
    down[last]!.push(v);
    up[v]!.push(last);
    chains.push(chain);
  }
  const layers: number[][] = [];
  vLayer.forEach((l, v) => (layers[l] ??= []).push(v));
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];

  orderLayers(layers, up, down, vLayer.length);
  const height = (v: number) => (v < n ? s.nodeHeight : 0);
  const y = placeInLayers(layers, up, down, height, s.nodesep);

  let top = Infinity;
  let bottom = -Infinity;
  for (let v = 0; v < vLayer.length; v++) {
    top = Math.min(top, y[v]! - height(v) / 2);
    bottom = Math.max(bottom, y[v]! + height(v) / 2);
  }
  const shift = n ? s.margin - top : 0;
  const xOf = (l: number) => s.margin + l * (s.nodeWidth + s.ranksep) + s.nodeWidth / 2;
  const point = (v: number) => ({ x: xOf(vLayer[v]!), y: y[v]! + shift });
  const half = s.nodeWidth / 2;
  return {
    nodes: steps.map((step, v) => ({ key: step.key, ...point(v) })),
    edges: edges.map(([u, v], i) => {
      const from = point(u);
      const to = point(v);
      // Through each virtual node horizontally, in the gap its slot keeps free between the nodes of that layer.
      const through = chains[i]!.flatMap((d) => {
        const p = point(d);
        return [{ x: p.x - half, y: p.y }, { x: p.x + half, y: p.y }];
      });
      return { from: steps[u]!.key, to: steps[v]!.key, points: [{ x: from.x + half, y: from.y }, ...through, { x: to.x - half, y: to.y }] };
    }),
    width: layers.length ? 2 * s.margin + layers.length * s.nodeWidth + (layers.length - 1) * s.ranksep : 0,
    height: n ? bottom - top + 2 * s.margin : 0,
  };
}

/** Each vertex one layer after its latest predecessor (Kahn's order); a cycle is broken at its first vertex in input order. */
function longestPathLayers(preds: number[][], succs: number[][]): number[] {
  const n = preds.length;
  const layer = new Array<number>(n).fill(0);
  const waiting = preds.map((p) => p.length);
  const queued = new Array<boolean>(n).fill(false);
  const queue: number[] = [];
  const enqueue = (v: number) => {
    queued[v] = true;
    queue.push(v);
  };
  for (let v = 0; v < n; v++) if (waiting[v] === 0) enqueue(v);
  let next = 0;
  for (let head = 0; head < n; head++) {
    if (head === queue.length) {
      while (queued[next]) next++;
      enqueue(next);
    }
    const v = queue[head]!;
    for (const w of succs[v]!) {
      if (queued[w]) continue;
      layer[w] = Math.max(layer[w]!, layer[v]! + 1);
      if (--waiting[w]! === 0) enqueue(w);
    }
  }
  return layer;
}

/**
 * Orders every layer in place by alternating barycentre sweeps (down: by the positions of the neighbours in the
 * layer before; up: after), keeping the order with the fewest crossings.
 */
function orderLayers(layers: number[][], up: number[][], down: number[][], size: number): void {
  const pos = new Int32Array(size);
  const reindex = (layer: number[]) => layer.forEach((v, i) => (pos[v] = i));
  layers.forEach(reindex);
  const bary = new Float64Array(size);
  const sortBy = (layer: number[], neighbours: number[][]) => {
    for (const v of layer) {
      const nb = neighbours[v]!;
      // A vertex without neighbours on that side keeps its place.
      bary[v] = nb.length ? nb.reduce((sum, u) => sum + pos[u]!, 0) / nb.length : pos[v]!;
    }
    layer.sort((a, b) => bary[a]! - bary[b]! || pos[a]! - pos[b]!);
    reindex(layer);
  };
  let best = layers.map((layer) => [...layer]);
  let fewest = crossings(layers, up, pos);
  for (let sweep = 0; sweep < ORDER_SWEEPS && fewest > 0; sweep++) {
    if (sweep % 2 === 0) for (let l = 1; l < layers.length; l++) sortBy(layers[l]!, up);
    else for (let l = layers.length - 2; l >= 0; l--) sortBy(layers[l]!, down);
    const count = crossings(layers, up, pos);
    if (count < fewest) {
      fewest = count;
      best = layers.map((layer) => [...layer]);
    }
  }
  best.forEach((layer, l) => (layers[l] = layer));
}

/** Edge crossings between each pair of adjacent layers: inversions of the segments' lower ends, with a Fenwick tree. */
function crossings(layers: number[][], up: number[][], pos: Int32Array): number {
  let total = 0;
  for (let l = 1; l < layers.length; l++) {
    const segments: [number, number][] = [];
    for (const v of layers[l]!) for (const u of up[v]!) segments.push([pos[u]!, pos[v]!]);
    segments.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const tree = new Int32Array(layers[l]!.length + 1);
    segments.forEach(([, p], seen) => {
      let atMost = 0;
      for (let i = p + 1; i > 0; i -= i & -i) atMost += tree[i]!;
      total += seen - atMost;
      for (let i = p + 1; i < tree.length; i += i & -i) tree[i]!++;
    });
  }
  return total;
}

/**
 * Heights (centres) within layers: stacked and centred first, then each vertex pulled toward the median height of its
 * neighbours on both sides (a median keeps chains straight where a mean bends them toward a side branch), down the
 * layers and back up, until nothing moves by half a pixel. The order and the gaps are kept by placing the layer once
 * pushed down from the top and once pushed up from the bottom, and taking the mean of the two.
 */
function placeInLayers(layers: number[][], up: number[][], down: number[][], height: (v: number) => number, nodesep: number): Float64Array {
  const y = new Float64Array(up.length);
  const neighbours = up.map((u, v) => [...u, ...down[v]!]);
  const widest = Math.max(0, ...layers.map((l) => l.length));
  const pushedDown = new Float64Array(widest);
  const pushedUp = new Float64Array(widest);
  const around = new Float64Array(Math.max(0, ...neighbours.map((nb) => nb.length)));
  const gap = (a: number, b: number) => (height(a) + height(b)) / 2 + nodesep;
  for (const layer of layers) {
    let at = 0;
    layer.forEach((v, i) => {
      if (i > 0) at += gap(layer[i - 1]!, v);
      y[v] = at;
    });
    for (const v of layer) y[v]! -= at / 2;
  }
  /** Places one layer; answers how far its furthest vertex moved. */
  const pull = (layer: number[]): number => {
    const k = layer.length;
    for (let i = 0; i < k; i++) {
      const nb = neighbours[layer[i]!]!;
      for (let j = 0; j < nb.length; j++) around[j] = y[nb[j]!]!;
      pushedDown[i] = pushedUp[i] = median(around.subarray(0, nb.length), y[layer[i]!]!);
    }
    for (let i = 1; i < k; i++) pushedDown[i] = Math.max(pushedDown[i]!, pushedDown[i - 1]! + gap(layer[i - 1]!, layer[i]!));
    for (let i = k - 2; i >= 0; i--) pushedUp[i] = Math.min(pushedUp[i]!, pushedUp[i + 1]! - gap(layer[i]!, layer[i + 1]!));
    let moved = 0;
    for (let i = 0; i < k; i++) {
      const v = layer[i]!;
      const placed = (pushedDown[i]! + pushedUp[i]!) / 2;
      moved = Math.max(moved, Math.abs(placed - y[v]!));
      y[v] = placed;
    }
    return moved;
  };
  for (let pass = 0; pass < PLACEMENT_PASSES; pass++) {
    let moved = 0;
    for (const layer of layers) moved = Math.max(moved, pull(layer));
    for (let l = layers.length - 1; l >= 0; l--) moved = Math.max(moved, pull(layers[l]!));
    if (moved < 0.5) break;
  }
  return y;
}

/** The median of `values` (sorted in place); of the two middle ones of an even count, the one nearer `current`. */
function median(values: Float64Array, current: number): number {
  if (values.length === 0) return current;
  values.sort();
  const mid = values.length >> 1;
  if (values.length % 2) return values[mid]!;
  const low = values[mid - 1]!;
  const high = values[mid]!;
  const toLow = Math.abs(current - low);
  const toHigh = Math.abs(high - current);
  return toLow < toHigh ? low : toHigh < toLow ? high : (low + high) / 2;
}
