import { useState } from 'react';
import { ApiError } from '../api/client';
import type { BatonEvent, Run, Step } from '../api/types';
import { can } from '../lib/jwt';
import { Link } from '../lib/router';
import { useAction } from '../lib/use-api';
import { useApp } from '../session';
import { attemptBars, groupTurns } from '../lib/events';
import { ChildRunTable, countsText } from './child-runs';
import { ConfirmDialog } from './confirm';
import { formatDuration, formatTime, InlineError, Json, StatusBadge } from './states';

const RETRYABLE = new Set(['failed']);
const SKIPPABLE = new Set(['pending', 'ready', 'failed', 'waiting']);

/**
 * Usage and cost: the step's own (the API's `usage`, of the completing attempt of an LLM agent), else what the agent
 * put in its output, progress or checkpoint (an attempt that awaits a decision has not completed).
 */
function usageOf(step: Step, events: BatonEvent[]): unknown {
  if (step.usage) return step.usage;
  const fromOutput = (step.output as { usage?: unknown } | null)?.usage;
  if (fromOutput) return fromOutput;
  for (let i = events.length - 1; i >= 0; i--) {
    const payload = events[i]!.payload as { usage?: unknown; cost?: unknown; progress?: { usage?: unknown } } | null;
    const found = payload?.usage ?? payload?.cost ?? payload?.progress?.usage;
    if (found) return found;
  }
  return undefined;
}

function parseJson(text: string): { value?: unknown; error?: string } {
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
}

/** Everything about one step: state, attempts, input/output/error, usage, its events; retry and skip with confirmation. */
export function StepPanel({ run, step, events, onChanged }: { run: Run; step: Step; events: BatonEvent[]; onChanged: (run: Run) => void }) {
  const { api, session } = useApp();
  const [dialog, setDialog] = useState<'retry' | 'skip' | null>(null);
  const [text, setText] = useState('');
  const { busy, error, setError, run: act } = useAction();
  const mine = events.filter((e) => e.stepKey === step.key);
  const childRuns = run.children?.filter((c) => c.stepKey === step.key) ?? [];
  const usage = usageOf(step, mine);
  const turns = groupTurns(mine, step.key);
  const attempts = attemptBars(mine);
  const runOpen = run.status !== 'completed' && run.status !== 'cancelled';
  const operator = can.operate(session.role);

  const open = (kind: 'retry' | 'skip') => {
    setError(undefined);
    setText(kind === 'retry' ? JSON.stringify(step.input ?? {}, null, 2) : '');
    setDialog(kind);
  };
  const confirm = async () => {
    const parsed = parseJson(text);
    if (parsed.error) return setError(new ApiError(400, parsed.error));
    await act(async () => {
      const body = dialog === 'retry' ? { input: parsed.value } : { output: parsed.value };
      const updated = await api.call<Run>(dialog === 'retry' ? 'retryStep' : 'skipStep', { params: { id: run.id, key: step.key }, body });
      setDialog(null);
      onChanged(updated);
    });
  };

  return (
    <section className="card step-panel" aria-labelledby="step-title">
      <header className="panel-header">
        <h2 id="step-title">
          Step <code>{step.key}</code>
        </h2>
        <StatusBadge status={step.status} />
      </header>
      <dl className="facts">
        <dt>Agent</dt>
        <dd>{step.agent ?? step.type}</dd>
        <dt>Attempt</dt>
        <dd>
          {step.attempt} of {step.maxAttempts}
        </dd>
        <dt>Depends on</dt>
        <dd>{step.dependsOn.length ? step.dependsOn.join(', ') : 'nothing'}</dd>
        <dt>Started</dt>
        <dd>{formatTime(step.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(step.completedAt)}</dd>
        {step.children ? (
          <>
            <dt>Child runs</dt>
            <dd>{countsText(step.children)}</dd>
          </>
        ) : null}
        {step.nextAttemptAt && (step.status === 'pending' || step.status === 'ready') ? (
          <>
            <dt>Next attempt</dt>
            <dd>{formatTime(step.nextAttemptAt)}</dd>
          </>
        ) : null}
      </dl>
      {step.status === 'awaiting_approval' ? (
        <p className="notice">
          Waiting for a decision. <Link to={`/approvals?run=${run.id}`}>Open it in the approvals inbox</Link>
        </p>
      ) : null}
      {operator && runOpen ? (
        <div className="actions">
          {RETRYABLE.has(step.status) ? (
            <button type="button" onClick={() => open('retry')}>
              Retry step…
            </button>
          ) : null}
          {SKIPPABLE.has(step.status) ? (
            <button type="button" onClick={() => open('skip')}>
              Skip step…
            </button>
          ) : null}
        </div>
      ) : null}
      {childRuns.length ? (
        <>
          <h3>Child runs ({childRuns.length.toLocaleString()})</h3>
          <ChildRunTable step={step.key} runs={childRuns} first={10} compact />
        </>
      ) : null}
      {attempts.length ? (
        <>
          <h3>Attempts ({attempts.length})</h3>
          <ol className="event-list" aria-label="Attempts">
            {attempts.map((a) => (
              <li key={`${a.attempt}:${a.start}`}>
                Attempt {a.attempt}: <StatusBadge status={a.outcome === 'retrying' ? 'failed' : a.outcome} />{' '}
                <span className="muted">
                  {formatTime(new Date(a.start).toISOString())}, {a.end === null ? 'still going' : formatDuration(a.end - a.start)}
                </span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <h3>Input</h3>
      <Json value={step.input} label="input" />
      <h3>Output</h3>
      <Json value={step.output} label="output" />
      {step.error ? (
        <>
          <h3>Error</h3>
          <Json value={step.error} label="error" />
        </>
      ) : null}
      {usage ? (
        <>
          <h3>Usage and cost</h3>
          <Json value={usage} label="usage" />
        </>
      ) : null}
      {turns.length > 0 ? (
        <>
          <h3>Conversation ({turns.length} turns)</h3>
          <ol className="turn-list" aria-label={`turns of ${step.key}`}>
            {turns.map((t, i) => (
              <li key={i}>
                <strong>{t.speaker}</strong>{' '}
                <span className="muted">
                  turn {t.turn}
                  {t.selectedBy === 'fallback' ? ' (the selector failed: round-robin)' : ''}
                </span>
                <p className="turn-text">{t.text}</p>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <h3>Events ({mine.length})</h3>
      {mine.length === 0 ? (
        <p className="muted">No events for this step yet.</p>
      ) : (
        <ol className="event-list">
          {mine.map((e) => (
            <li key={e.id}>
              <span className="mono">#{e.seq}</span> <strong>{e.type}</strong> <span className="muted">{formatTime(e.createdAt)}</span>
              {e.payload && Object.keys(e.payload).length ? (
                <details>
                  <summary>payload</summary>
                  <Json value={e.payload} label={`payload of event ${e.seq}`} />
                </details>
              ) : null}
            </li>
          ))}
        </ol>
      )}
      {dialog ? (
        <ConfirmDialog
          title={dialog === 'retry' ? `Retry step ${step.key}?` : `Skip step ${step.key}?`}
          confirmLabel={dialog === 'retry' ? 'Retry step' : 'Skip step'}
          busy={busy}
          danger={dialog === 'skip'}
          onCancel={() => setDialog(null)}
          onConfirm={() => void confirm()}
        >
          <p>
            {dialog === 'retry'
              ? 'The step runs again with this input (edit it if needed). The intervention is audited.'
              : 'The step is skipped; its dependents receive this substitute output (empty: null). The intervention is audited.'}
          </p>
          <label htmlFor="intervention-json">{dialog === 'retry' ? 'Input (JSON)' : 'Substitute output (JSON)'}</label>
          <textarea id="intervention-json" className="code" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
          <InlineError error={error} />
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
