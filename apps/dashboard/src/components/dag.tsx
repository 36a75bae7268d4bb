import { memo, useMemo, type KeyboardEvent } from 'react';
import type { Step } from '../api/types';
import { layoutDag, NODE_HEIGHT, NODE_WIDTH, shapeKey, type LaidOutEdge } from '../lib/layout';
import { statusLook } from '../lib/status';

/**
 * The run's DAG as SVG, laid out once per graph shape (layoutDag); each node shows its state as colour, icon
 * and words. Nodes are buttons (Tab, Enter/Space select; arrow keys move along the list).
 */
export const Dag = memo(function Dag({ steps, selected, onSelect }: { steps: Step[]; selected: string | null; onSelect: (key: string) => void }) {
  const shape = shapeKey(steps);
  const dag = useMemo(() => layoutDag(steps), [shape]);
  const edges = useMemo(() => edgePaths(dag.edges), [dag]);
  const byKey = useMemo(() => new Map(steps.map((s) => [s.key, s])), [steps]);
  const order = dag.nodes.map((n) => n.key);

  const onKey = (event: KeyboardEvent<SVGGElement>, key: string) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      onSelect(key);
      return;
    }
    const delta = event.key === 'ArrowDown' || event.key === 'ArrowRight' ? 1 : event.key === 'ArrowUp' || event.key === 'ArrowLeft' ? -1 : 0;
    if (!delta) return;
    event.preventDefault();
    const next = order[(order.indexOf(key) + delta + order.length) % order.length];
    const element = (event.currentTarget.ownerSVGElement ?? document).querySelector<SVGGElement>(`[data-step="${CSS.escape(next ?? '')}"]`);
    element?.focus();
  };

  return (
    <div className="dag-scroll">
      <svg
        className="dag"
        width={dag.width}
        height={dag.height}
        viewBox={`0 0 ${dag.width} ${dag.height}`}
        role="group"
        aria-label={`Step graph, ${steps.length} steps`}
      >
        <path className="dag-edge" d={edges.lines} />
        <path className="dag-arrow" d={edges.arrows} />
        {dag.nodes.map((n) => {
          const step = byKey.get(n.key);
          if (!step) return null;
          const look = statusLook(step.status);
          const label = step.key.length > 22 ? `${step.key.slice(0, 21)}…` : step.key;
          return (
            <g
              key={n.key}
              data-step={n.key}
              data-status={step.status}
              className={`dag-node tone-${look.tone}${selected === n.key ? ' selected' : ''}`}
              transform={`translate(${n.x - NODE_WIDTH / 2},${n.y - NODE_HEIGHT / 2})`}
              role="button"
              tabIndex={0}
              aria-pressed={selected === n.key}
              aria-label={`${step.key}: ${look.label}${step.attempt > 1 ? `, attempt ${step.attempt}` : ''}${step.children?.total ? `, ${step.children.finished} of ${step.children.total} child runs finished` : ''}`}
              onClick={() => onSelect(n.key)}
              onKeyDown={(e) => onKey(e, n.key)}
            >
              <title>{`${step.key} — ${look.label}`}</title>
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={7} />
              <text x={12} y={20} className="dag-icon" aria-hidden="true">
                {look.icon}
              </text>
              <text x={30} y={20} className="dag-key">
                {label}
              </text>
              <text x={30} y={36} className="dag-state">
                {look.label}
                {step.attempt > 1 ? ` · try ${step.attempt}` : ''}
                {step.children?.total ? ` · ${step.children.finished}/${step.children.total}` : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
});

const ARROW_LENGTH = 9.8;
const ARROW_HALF_WIDTH = 4.9;

/**
 * Every edge as one path of lines and one of arrowheads: two elements however many edges (a 200-step run has 361,
 * each a polyline with a marker, which cost the first render thousands of DOM calls and as many paints).
 */
export function edgePaths(edges: LaidOutEdge[]): { lines: string; arrows: string } {
  const lines: string[] = [];
  const arrows: string[] = [];
  const xy = (x: number, y: number) => `${Math.round(x * 10) / 10},${Math.round(y * 10) / 10}`;
  for (const { points } of edges) {
    if (points.length < 2) continue;
    lines.push(`M${points.map((p) => xy(p.x, p.y)).join('L')}`);
    const tip = points.at(-1)!;
    const from = points.at(-2)!;
    const length = Math.hypot(tip.x - from.x, tip.y - from.y) || 1;
    const [ux, uy] = [(tip.x - from.x) / length, (tip.y - from.y) / length];
    const [bx, by] = [tip.x - ux * ARROW_LENGTH, tip.y - uy * ARROW_LENGTH];
    arrows.push(`M${xy(tip.x, tip.y)}L${xy(bx - uy * ARROW_HALF_WIDTH, by + ux * ARROW_HALF_WIDTH)}L${xy(bx + uy * ARROW_HALF_WIDTH, by - ux * ARROW_HALF_WIDTH)}Z`);
  }
  return { lines: lines.join(''), arrows: arrows.join('') };
}
