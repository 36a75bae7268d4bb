import { useState } from 'react';
import type { ChildCounts, ChildRun, Step } from '../api/types';
import { Link } from '../lib/router';
import { Progress, StatusBadge } from './states';

/** Rows shown before "Show all": a forEach may start thousands of children. */
const FIRST_ROWS = 50;

export const itemLabel = (child: Pick<ChildRun, 'index'>): string => (child.index === null ? '—' : `#${child.index}`);

export function countsText(counts: ChildCounts): string {
  return `${counts.started} of ${counts.total} started, ${counts.finished} finished`;
}

/**
 * The child runs of one sub-orchestration step: item, run (a link to it), definition, state and progress
 * (`compact`, for the step panel: item, run, state and percent).
 */
export function ChildRunTable({ step, runs, first = FIRST_ROWS, compact }: { step: string; runs: ChildRun[]; first?: number; compact?: boolean }) {
  const [all, setAll] = useState(false);
  const shown = all ? runs : runs.slice(0, first);
  const attempts = new Set(runs.map((c) => c.attempt)).size > 1;
  return (
    <>
      <table className="table child-table" aria-label={`Child runs of step ${step}`}>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">Run</th>
            {compact ? null : <th scope="col">Definition</th>}
            {attempts ? <th scope="col">Attempt</th> : null}
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((child) => (
            <tr key={child.id} data-child={child.id}>
              <td>{itemLabel(child)}</td>
              <td>
                <Link to={`/runs/${child.id}`} className="mono" aria-label={`Child run ${child.id.slice(0, 8)}${child.index === null ? '' : `, item ${child.index}`}`}>
                  {child.id.slice(0, 8)}
                </Link>
              </td>
              {compact ? null : (
                <td>
                  {child.definition} <span className="muted">v{child.version}</span>
                </td>
              )}
              {attempts ? <td>{child.attempt ?? '—'}</td> : null}
              <td>
                <StatusBadge status={child.status} />
              </td>
              <td>{compact ? `${Math.round(child.percent)}%` : <Progress percent={child.percent} label={`Progress of child run ${child.id.slice(0, 8)}`} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.length > shown.length ? (
        <button type="button" className="link" onClick={() => setAll(true)}>
          Show all {runs.length.toLocaleString()} child runs
        </button>
      ) : null}
    </>
  );
}

/**
 * Every child run of a run, grouped by the sub-orchestration step that started it (in step order), each group with
 * the step's counters and a button that selects the step in the graph.
 */
export function ChildRuns({ steps, runs, onSelectStep }: { steps: Step[]; runs: ChildRun[]; onSelectStep: (key: string) => void }) {
  const groups = new Map<string, ChildRun[]>();
  for (const child of runs) {
    const key = child.stepKey ?? '';
    groups.set(key, [...(groups.get(key) ?? []), child]);
  }
  const byKey = new Map(steps.map((s) => [s.key, s]));
  return (
    <>
      {[...groups].map(([key, group]) => {
        const counts = byKey.get(key)?.children;
        return (
          <div key={key} className="child-group" data-step-children={key}>
            <h3>
              {key ? (
                <button type="button" className="link" onClick={() => onSelectStep(key)} aria-label={`Select step ${key} in the graph`}>
                  Step <code>{key}</code>
                </button>
              ) : (
                'Other child runs'
              )}{' '}
              <span className="muted small">{counts ? countsText(counts) : `${group.length} child runs`}</span>
            </h3>
            <ChildRunTable step={key} runs={group} />
          </div>
        );
      })}
    </>
  );
}
