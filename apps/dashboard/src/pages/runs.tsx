import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { RUN_STATUSES, TERMINAL_RUN, type BatonEvent, type Page, type Run, type RunStatusSummary } from '../api/types';
import { Empty, ErrorState, formatTime, InlineError, Loading, Progress, StatusBadge } from '../components/states';
import { RUN_STATE_OF } from '../lib/events';
import { can } from '../lib/jwt';
import { LiveIndicator, useEventStream } from '../lib/live';
import { Link, navigate, useLocation } from '../lib/router';
import { useLoad } from '../lib/use-api';
import { useApp } from '../session';
import { StartRunPanel, type DefinitionList } from './start-run';

const PAGE_SIZE = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `<input type=datetime-local>` value -> ISO instant (local time), or undefined. */
const toIso = (local: string | null) => (local ? new Date(local).toISOString() : undefined);

export function RunsPage() {
  const { api, session } = useApp();
  const { search } = useLocation();
  const filters = {
    status: search.get('status') ?? '',
    definition: search.get('definition') ?? '',
    parentRunId: search.get('parentRunId') ?? '',
    from: search.get('from') ?? '',
    to: search.get('to') ?? '',
  };
  const offset = Number(search.get('offset') ?? 0) || 0;
  const setQuery = (changes: Record<string, string | number>) => {
    const next = new URLSearchParams(search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === '' || v === 0) next.delete(k);
      else next.set(k, String(v));
    }
    if (!('offset' in changes)) next.delete('offset');
    const qs = next.toString();
    navigate(`/runs${qs ? `?${qs}` : ''}`);
  };

  const runs = useLoad<Page<Run>>(
    (signal) =>
      api.call('listRuns', {
        query: {
          status: filters.status,
          definition: filters.definition,
          parentRunId: filters.parentRunId,
          from: toIso(filters.from),
          to: toIso(filters.to),
          limit: PAGE_SIZE,
          offset,
        },
        signal,
      }),
    [filters.status, filters.definition, filters.parentRunId, filters.from, filters.to, offset],
  );
  const definitions = useLoad<DefinitionList>((signal) => api.call('listDefinitions', { query: { limit: 200 }, signal }), []);
  const [progress, setProgress] = useState<Record<string, RunStatusSummary>>({});
  const [newRuns, setNewRuns] = useState(0);

  // Progress of the rows on screen: fetched once per page, then again for the runs whose events arrive.
  const fetchProgress = useCallback(
    (ids: string[]) => {
      for (const id of ids)
        api
          .call<RunStatusSummary>('runStatus', { params: { id } })
          .then((s) => setProgress((p) => ({ ...p, [id]: s })))
          .catch(() => undefined);
    },
    [api],
  );
  useEffect(() => {
    if (runs.data) fetchProgress(runs.data.items.map((r) => r.id));
    setNewRuns(0);
  }, [runs.data?.items.map((r) => r.id).join(','), fetchProgress]);

  const visible = useRef(new Set<string>());
  visible.current = new Set(runs.data?.items.map((r) => r.id));
  const onBatch = useCallback(
    (events: BatonEvent[]) => {
      const touched = new Set<string>();
      const statuses = new Map<string, Run['status']>();
      let created = 0;
      for (const e of events) {
        if (e.type === 'run.created') created++;
        if (!visible.current.has(e.runId)) continue;
        touched.add(e.runId);
        const status = RUN_STATE_OF[e.type];
        if (status) statuses.set(e.runId, status);
      }
      if (created) setNewRuns((n) => n + created);
      if (statuses.size)
        runs.setData((page) => page && { ...page, items: page.items.map((r) => (statuses.has(r.id) ? { ...r, status: statuses.get(r.id)! } : r)) });
      if (touched.size) fetchProgress([...touched]);
    },
    [fetchProgress, runs],
  );
  const live = useEventStream(api, { route: 'orgStream' }, onBatch);

  const [idQuery, setIdQuery] = useState('');
  const [idError, setIdError] = useState<ApiError>();
  // The run page itself says when the id is not a run of this organization; no extra round trip here.
  const findById = () => {
    const id = idQuery.trim();
    setIdError(undefined);
    if (!UUID.test(id)) return setIdError(new ApiError(400, 'A run id is a UUID, like 3f2c…-….'));
    navigate(`/runs/${id}`);
  };

  const page = runs.data;
  return (
    <div className="page">
      <header className="page-header">
        <h1>Runs</h1>
        <LiveIndicator state={live} />
      </header>
      <div className="split">
        <div className="split-main">
          <form className="filters card" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
            <div className="field">
              <label htmlFor="f-status">Status</label>
              <select id="f-status" value={filters.status} onChange={(e) => setQuery({ status: e.target.value })}>
                <option value="">Any</option>
                {RUN_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s.replace('_', ' ')}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="f-definition">Definition</label>
              <select id="f-definition" value={filters.definition} onChange={(e) => setQuery({ definition: e.target.value })}>
                <option value="">Any</option>
                {definitions.data?.items.map((d) => (
                  <option key={d.slug} value={d.slug}>
                    {d.slug}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="f-from">Created from</label>
              <input id="f-from" type="datetime-local" value={filters.from} onChange={(e) => setQuery({ from: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="f-to">Created before</label>
              <input id="f-to" type="datetime-local" value={filters.to} onChange={(e) => setQuery({ to: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="f-parent">Parent run id</label>
              <input id="f-parent" value={filters.parentRunId} placeholder="UUID" onChange={(e) => setQuery({ parentRunId: e.target.value.trim() })} />
            </div>
          </form>
          <form
            className="search"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              findById();
            }}
          >
            <label htmlFor="run-id-search">Find a run by id</label>
            <input id="run-id-search" value={idQuery} onChange={(e) => setIdQuery(e.target.value)} placeholder="Run id" />
            <button type="submit">Open</button>
          </form>
          <InlineError error={idError} />
          {newRuns > 0 ? (
            <p className="notice" role="status">
              {newRuns} new run{newRuns > 1 ? 's' : ''} started.{' '}
              <button type="button" className="link" onClick={runs.reload}>
                Show them
              </button>
            </p>
          ) : null}
          {runs.error ? (
            <ErrorState error={runs.error} what="runs" retry={runs.reload} />
          ) : !page ? (
            <Loading what="runs" />
          ) : page.items.length === 0 ? (
            <Empty title={Object.values(filters).some(Boolean) ? 'No run matches these filters.' : 'No runs yet.'}>
              {can.operate(session.role) ? 'Start one with the form beside this list.' : 'Runs appear here as soon as they start.'}
            </Empty>
          ) : (
            <>
              <table className="table" aria-label="Runs" aria-busy={runs.loading}>
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Definition</th>
                    <th scope="col">Status</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Created</th>
                    <th scope="col">Parent</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((run) => {
                    const p = progress[run.id];
                    const percent = TERMINAL_RUN.has(run.status) && run.status === 'completed' ? 100 : (p?.percent ?? 0);
                    return (
                      <tr key={run.id} data-run={run.id}>
                        <td>
                          <Link to={`/runs/${run.id}`} className="mono">
                            {run.id.slice(0, 8)}
                          </Link>
                        </td>
                        <td>
                          {run.definition} <span className="muted">v{run.version}</span>
                        </td>
                        <td>
                          <StatusBadge status={run.status} />
                        </td>
                        <td>
                          <Progress percent={percent} label={`Progress of run ${run.id.slice(0, 8)}`} />
                          {p ? <span className="muted small"> {p.counts.completed ?? 0}/{p.total}</span> : null}
                        </td>
                        <td>{formatTime(run.createdAt)}</td>
                        <td>{run.parentRunId ? <Link to={`/runs/${run.parentRunId}`} className="mono">{run.parentRunId.slice(0, 8)}</Link> : '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              <nav className="pager" aria-label="Pages of runs">
                <button type="button" disabled={offset === 0} onClick={() => setQuery({ offset: Math.max(0, offset - PAGE_SIZE) })}>
                  ← Newer
                </button>
                <span>
                  {offset + 1}–{offset + page.items.length} of {page.total.toLocaleString()}
                </span>
                <button type="button" disabled={offset + PAGE_SIZE >= page.total} onClick={() => setQuery({ offset: offset + PAGE_SIZE })}>
                  Older →
                </button>
              </nav>
            </>
          )}
        </div>
        {can.operate(session.role) ? (
          <aside className="split-side">
            {definitions.error ? (
              <ErrorState error={definitions.error} what="definitions" retry={definitions.reload} />
            ) : definitions.data ? (
              <StartRunPanel definitions={definitions.data.items} initial={search.get('start') ?? undefined} />
            ) : (
              <Loading what="definitions" />
            )}
          </aside>
        ) : null}
      </div>
    </div>
  );
}
