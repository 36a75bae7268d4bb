import { memo, useMemo, type KeyboardEvent } from 'react';
import type { Step } from '../api/types';
import { layoutDag, NODE_HEIGHT, NODE_WIDTH, shapeKey } from '../lib/layout';
import { statusLook } from '../lib/status';

/**
 * The run's DAG as SVG, laid out once per graph shape (layoutDag); each node shows its state as colour, icon
 * and words. Nodes are buttons (Tab, Enter/Space select; arrow keys move along the list).
 */
export const Dag = memo(function Dag({ steps, selected, onSelect }: { steps: Step[]; selected: string | null; onSelect: (key: string) => void }) {
  const shape = shapeKey(steps);
  const dag = useMemo(() => layoutDag(steps), [shape]);
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
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" className="dag-arrow" />
          </marker>
        </defs>
        {dag.edges.map((e) => (
          <polyline
            key={`${e.from}->${e.to}`}
            className="dag-edge"
            points={e.points.map((p) => `${p.x},${p.y}`).join(' ')}
            markerEnd="url(#arrow)"
          />
        ))}
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
