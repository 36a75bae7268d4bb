import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ApiClient } from '../api/client';
import { TERMINAL_RUN, type BatonEvent, type Run } from '../api/types';
import { ChildRuns, itemLabel } from '../components/child-runs';
import { ConfirmDialog } from '../components/confirm';
import { Dag } from '../components/dag';
import { Empty, ErrorState, formatTime, InlineError, Json, Loading, Progress, StatusBadge } from '../components/states';
import { StepPanel } from '../components/step-panel';
import { Timeline } from '../components/timeline';
import { coalesce } from '../lib/coalesce';
import { applyEvents, CHILD_EVENTS, mergeEvents } from '../lib/events';
import { can } from '../lib/jwt';
import { LiveIndicator, useEventStream } from '../lib/live';
import { Link, useLocation } from '../lib/router';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

const EVENT_PAGE = 1000;

/** The whole event history of a run, page after page (`?after=`). */
async function allEvents(api: ApiClient, id: string, signal: AbortSignal): Promise<BatonEvent[]> {
  const events: BatonEvent[] = [];
  for (;;) {
    const after = events.at(-1)?.id;
    const page = await api.call<{ items: BatonEvent[] }>('runEvents', { params: { id }, query: { after, limit: EVENT_PAGE }, signal });
    events.push(...page.items);
    if (page.items.length < EVENT_PAGE) return events;
  }
}

export function RunPage({ id }: { id: string }) {
  const { api, session } = useApp();
  // The history first, then the run: the run is then at least as new as the history, and the stream (resuming after
  // the history's last event) replays whatever happened between the two onto it in order. Read the other way round
  // (or together), a run older than the history misses the history's last transitions for good.
  const loaded = useLoad(async (signal) => {
    const events = await allEvents(api, id, signal);
    const run = await api.call<Run>('getRun', { params: { id }, signal });
    return { run, events };
  }, [id]);
  const { search } = useLocation();
  // `?step=` selects a step on arrival (a child run links to the step of its parent that started it).
  const [selected, setSelected] = useState<string | null>(() => search.get('step'));
  const [confirmCancel, setConfirmCancel] = useState(false);
  const { busy, error: actionError, run: act } = useAction();
  const [now, setNow] = useState(() => Date.now());

  const data = loaded.data;
  const running = data ? !TERMINAL_RUN.has(data.run.status) : false;
  const shown = Boolean(data);
  useEffect(() => {
    // The first render with the run committed, in the browser's performance timeline (the browser suite reads it).
    if (shown) performance.mark?.('baton:run-page-rendered', { detail: { id } });
  }, [shown, id]);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);

  // Child runs planned, started or ended: re-read the run for its children and the steps' counters (only those, so
  // live states applied meanwhile are kept); a burst of child events costs at most two reads.
  const refreshChildren = useMemo(
    () =>
      coalesce(async () => {
        const fresh = await api.call<Run>('getRun', { params: { id } });
        const counts = new Map(fresh.steps?.map((s) => [s.key, s.children]));
        loaded.setData(
          (current) =>
            current && {
              ...current,
              run: { ...current.run, children: fresh.children, steps: current.run.steps?.map((s) => ({ ...s, children: counts.get(s.key) ?? s.children })) },
            },
        );
      }),
    [api, id, loaded.setData],
  );
  const onBatch = useCallback(
    (events: BatonEvent[]) => {
      loaded.setData((current) => current && { run: applyEvents(current.run, events), events: mergeEvents(current.events, events) });
      if (events.some((e) => CHILD_EVENTS.has(e.type))) refreshChildren();
      if (events.some((e) => TERMINAL_RUN.has(e.type.replace('run.', '')))) {
        // The terminal event carries the output; the run resource has the final step outputs too.
        api
          .call<Run>('getRun', { params: { id } })
          .then((run) => loaded.setData((current) => current && { ...current, run }))
          .catch(() => undefined);
      }
    },
    [api, id, loaded, refreshChildren],
  );
  // Subscribe once the history is loaded, resuming right after its last event: no gap, no duplicate.
  // A child run names the step of its parent that started it, and its forEach item: both from the parent's `children`.
  const parentRunId = data?.run.parentRunId ?? null;
  const origin = useLoad(
    async (signal) => (parentRunId ? ((await api.call<Run>('getRun', { params: { id: parentRunId }, signal })).children?.find((c) => c.id === id) ?? null) : null),
    [parentRunId],
  );
  const streamTarget = data ? { route: 'runStream' as const, runId: id, lastEventId: data.events.at(-1)?.id ?? null } : null;
  const live = useEventStream(api, streamTarget, onBatch);

  if (loaded.error) return <ErrorState error={loaded.error} what="the run" retry={loaded.reload} />;
  if (!data) return <Loading what="the run" />;
  const { run, events } = data;
  const steps = run.steps ?? [];
  const step = steps.find((s) => s.key === selected) ?? null;
  const done = steps.filter((s) => ['completed', 'skipped'].includes(s.status)).length;
  const waitingApproval = steps.filter((s) => s.status === 'awaiting_approval');

  const cancel = async () => {
    await act(async () => {
      const updated = await api.call<Run>('cancelRun', { params: { id }, body: { reason: 'cancelled from the dashboard' } });
      loaded.setData((current) => current && { ...current, run: updated });
      setConfirmCancel(false);
    });
  };

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <p className="crumbs">
            <Link to="/runs">Runs</Link> / <span className="mono">{run.id}</span>
          </p>
          <h1>
            {run.definition} <span className="muted">v{run.version}</span>
          </h1>
        </div>
        <div className="header-side">
          <StatusBadge status={run.status} />
          <Progress percent={steps.length ? (done / steps.length) * 100 : 0} label="Run progress" />
          <LiveIndicator state={live} />
          {can.operate(session.role) && !TERMINAL_RUN.has(run.status) ? (
            <button type="button" className="danger" onClick={() => setConfirmCancel(true)}>
              Cancel run…
            </button>
          ) : null}
        </div>
      </header>
      <InlineError error={actionError} />
      {waitingApproval.length ? (
        <p className="notice" role="status">
          ‖ Waiting for approval of {waitingApproval.map((s) => s.key).join(', ')}. <Link to={`/approvals?run=${run.id}`}>Open the approvals inbox</Link>
        </p>
      ) : null}
      {run.parentRunId ? (
        <p className="parent-link" data-testid="parent-run">
          ↖ Child run of{' '}
          <Link to={`/runs/${run.parentRunId}${origin.data?.stepKey ? `?step=${encodeURIComponent(origin.data.stepKey)}` : ''}`} className="mono">
            {run.parentRunId.slice(0, 8)}
          </Link>
          {origin.data?.stepKey ? (
            <>
              , started by its step <code>{origin.data.stepKey}</code>
              {origin.data.index !== null ? <> for item {itemLabel(origin.data)}</> : null}
              {origin.data.attempt && origin.data.attempt > 1 ? <> (attempt {origin.data.attempt})</> : null}
            </>
          ) : null}
        </p>
      ) : null}
      <div className="run-layout">
        <div className="run-main">
          <section className="card" aria-labelledby="dag-title">
            <h2 id="dag-title">Steps ({steps.length})</h2>
            {steps.length === 0 ? <Empty title="This run has no steps yet." /> : <Dag steps={steps} selected={selected} onSelect={setSelected} />}
            <p className="muted small">Select a step (click, or Tab and Enter) to see its input, output, attempts and events.</p>
          </section>
          <section className="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Timeline</h2>
            <Timeline events={events} now={now} />
          </section>
          {run.children?.length ? (
            <section className="card" aria-labelledby="children-title">
              <h2 id="children-title">Sub-orchestrations ({run.children.length.toLocaleString()} child runs)</h2>
              <ChildRuns steps={steps} runs={run.children} onSelectStep={setSelected} />
            </section>
          ) : null}
          <section className="card" aria-labelledby="io-title">
            <h2 id="io-title">Run input and output</h2>
            <dl className="facts">
              <dt>Created</dt>
              <dd>{formatTime(run.createdAt)}</dd>
              <dt>Finished</dt>
              <dd>{formatTime(run.completedAt)}</dd>
              {run.usage?.totalTokens ? (
                <>
                  <dt>LLM usage</dt>
                  <dd>
                    {run.usage.totalTokens.toLocaleString()} tokens
                    {run.usage.costUsd ? `, $${run.usage.costUsd.toFixed(4)}` : ''}
                  </dd>
                </>
              ) : null}
            </dl>
            <h3>Input</h3>
            <Json value={run.input} label="run input" />
            <h3>Output</h3>
            <div data-testid="run-output">
              <Json value={run.output} label="run output" />
            </div>
            {run.error ? (
              <>
                <h3>Error</h3>
                <Json value={run.error} label="run error" />
              </>
            ) : null}
          </section>
        </div>
        <aside className="run-side">
          {step ? (
            <StepPanel
              key={step.key}
              run={run}
              step={step}
              events={events}
              onChanged={(updated) => loaded.setData((current) => current && { ...current, run: applyEvents(updated, []) })}
            />
          ) : (
            <Empty title="No step selected.">Select a step in the graph.</Empty>
          )}
        </aside>
      </div>
      {confirmCancel ? (
        <ConfirmDialog title="Cancel this run?" confirmLabel="Cancel run" danger busy={busy} onCancel={() => setConfirmCancel(false)} onConfirm={() => void cancel()}>
          <p>Pending steps are cancelled at once and running steps are told to stop. This cannot be undone.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
