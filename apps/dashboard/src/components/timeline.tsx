import { memo, useMemo } from 'react';
import type { BatonEvent } from '../api/types';
import { attemptBars } from '../lib/events';
import { formatDuration } from './states';

const ROW = 22;
const LABEL = 150;
const WIDTH = 640;
const TONE: Record<string, string> = {
  running: 'active',
  completed: 'ok',
  failed: 'bad',
  retrying: 'bad',
  cancelled: 'muted',
  awaiting_approval: 'warn',
};

/** Gantt chart of step attempts, from the run's events (one bar per attempt; a running one grows to now). */
export const Timeline = memo(function Timeline({ events, now }: { events: BatonEvent[]; now: number }) {
  const bars = useMemo(() => attemptBars(events), [events]);
  if (bars.length === 0) return <p className="muted">No step has started yet.</p>;
  const rows = [...new Set(bars.map((b) => b.stepKey))];
  const start = Math.min(...bars.map((b) => b.start));
  const end = Math.max(...bars.map((b) => b.end ?? now), start + 1);
  const scale = (WIDTH - LABEL - 10) / (end - start);
  return (
    <div className="timeline-scroll">
      <svg className="timeline" width={WIDTH} height={rows.length * ROW + 24} role="img" aria-label={`Timeline of ${bars.length} step attempts over ${formatDuration(end - start)}`}>
        {rows.map((key, i) => (
          <text key={key} x={4} y={i * ROW + 15} className="timeline-label">
            {key.length > 20 ? `${key.slice(0, 19)}…` : key}
          </text>
        ))}
        {bars.map((b, i) => {
          const x = LABEL + (b.start - start) * scale;
          const w = Math.max(3, ((b.end ?? now) - b.start) * scale);
          return (
            <rect key={i} x={x} y={rows.indexOf(b.stepKey) * ROW + 4} width={w} height={ROW - 8} rx={3} className={`timeline-bar tone-${TONE[b.outcome] ?? 'neutral'}`}>
              <title>{`${b.stepKey} attempt ${b.attempt}: ${b.outcome.replace('_', ' ')}, ${formatDuration((b.end ?? now) - b.start)}`}</title>
            </rect>
          );
        })}
        <text x={LABEL} y={rows.length * ROW + 18} className="timeline-axis">
          0
        </text>
        <text x={WIDTH - 10} y={rows.length * ROW + 18} textAnchor="end" className="timeline-axis">
          {formatDuration(end - start)}
        </text>
      </svg>
    </div>
  );
});
