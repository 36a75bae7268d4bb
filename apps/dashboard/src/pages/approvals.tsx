import { useMemo, useState } from 'react';
import type { Approval, ApprovalDetail, BatonEvent, Definition, DiffOp, JsonSchema, Page, Run } from '../api/types';
import { ConfirmDialog } from '../components/confirm';
import { Empty, ErrorState, formatTime, InlineError, Json, Loading, StatusBadge } from '../components/states';
import { can } from '../lib/jwt';
import { LiveIndicator, useEventStream } from '../lib/live';
import { Link, navigate, useLocation } from '../lib/router';
import { validateAgainst, type FieldProblem } from '../lib/schema';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

const LABELS: Record<string, string> = { continue: 'Approve (continue)', retry: 'Retry step', skip: 'Skip step', abort: 'Abort run' };

/** Pending approvals across runs (or resolved ones), and the selected one's decision form and history. */
export function ApprovalsPage() {
  const { api } = useApp();
  const { search } = useLocation();
  const status = search.get('status') ?? 'pending';
  const run = search.get('run') ?? '';
  const selected = search.get('id');
  const list = useLoad<Page<Approval>>(
    (signal) => api.call('listApprovals', { query: { status, run: run || undefined, limit: 100 }, signal }),
    [status, run],
  );
  const live = useEventStream(api, { route: 'orgStream' }, (events: BatonEvent[]) => {
    if (events.some((e) => e.type.startsWith('checkpoint.'))) list.reload();
  });
  const go = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(search);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    navigate(`/approvals?${next.toString()}`);
  };
  const items = list.data?.items ?? [];
  const current = selected ?? (items.length ? items[0]!.id : null);

  return (
    <div className="page">
      <header className="page-header">
        <h1>Approvals</h1>
        <LiveIndicator state={live} />
      </header>
      <div className="filters card" role="group" aria-label="Filter approvals">
        <div className="field">
          <label htmlFor="a-status">Status</label>
          <select id="a-status" value={status} onChange={(e) => go({ status: e.target.value, id: null })}>
            <option value="pending">Pending</option>
            <option value="resolved">Resolved</option>
            <option value="expired">Expired</option>
          </select>
        </div>
        {run ? (
          <p>
            Run <span className="mono">{run.slice(0, 8)}</span>{' '}
            <button type="button" className="link" onClick={() => go({ run: null, id: null })}>
              Show all runs
            </button>
          </p>
        ) : null}
      </div>
      <div className="split">
        <div className="split-list">
          {list.error ? (
            <ErrorState error={list.error} what="approvals" retry={list.reload} />
          ) : !list.data ? (
            <Loading what="approvals" />
          ) : items.length === 0 ? (
            <Empty title={status === 'pending' ? 'Nothing waits for a decision.' : `No ${status} approvals.`}>
              Runs that reach a checkpoint appear here.
            </Empty>
          ) : (
            <ul className="inbox" aria-label="Approvals">
              {items.map((a) => (
                <li key={a.id}>
                  <button
                    type="button"
                    className={`inbox-item${a.id === current ? ' selected' : ''}`}
                    aria-current={a.id === current}
                    onClick={() => go({ id: a.id })}
                  >
                    <strong>{a.prompt}</strong>
                    <span>
                      {a.definition} · <code>{a.stepKey}</code>
                    </span>
                    <span className="muted small">{formatTime(a.requestedAt)}</span>
                    <StatusBadge status={a.decision && a.status === 'resolved' ? a.decision : a.status} />
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="split-main">{current ? <ApprovalDetailView
              key={current}
              id={current}
              onDecided={() => {
                // Keep the decided approval on screen (with its history) even though it leaves the pending list.
                if (!selected) go({ id: current });
                list.reload();
              }}
            /> : null}</div>
      </div>
    </div>
  );
}

function ApprovalDetailView({ id, onDecided }: { id: string; onDecided: () => void }) {
  const { api, session } = useApp();
  const detail = useLoad(async (signal) => {
    const approval = await api.call<ApprovalDetail>('getApproval', { params: { id }, signal });
    // The modifications schema lives in the run's definition version, on the step's approval.
    const run = await api.call<Run>('getRun', { params: { id: approval.runId }, signal });
    const definition = await api.call<Definition>('getDefinition', { params: { slug: run.definition }, query: { version: run.version }, signal });
    const schema = definition.spec.steps.find((s) => s.key === approval.stepKey)?.approval?.modificationsSchema;
    return { approval, schema };
  }, [id]);
  const [text, setText] = useState('');
  const [comment, setComment] = useState('');
  const [pending, setPending] = useState<string | null>(null);
  const { busy, error, run } = useAction();

  const parsed = useMemo((): { value?: unknown; problems: FieldProblem[] } => {
    if (text.trim() === '') return { value: undefined, problems: [] };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { problems: [{ path: '$', message: `not valid JSON: ${(e as Error).message}` }] };
    }
    const schema: JsonSchema | undefined = detail.data?.schema;
    return { value, problems: schema ? validateAgainst(schema, value) : [] };
  }, [text, detail.data?.schema]);

  if (detail.error) return <ErrorState error={detail.error} what="the approval" retry={detail.reload} />;
  if (!detail.data) return <Loading what="the approval" />;
  const { approval, schema } = detail.data;
  const mayDecide = can.approve(session.role) && approval.status === 'pending';

  const decide = async (decision: string) => {
    await run(async () => {
      const body: Record<string, unknown> = { decision };
      if (parsed.value !== undefined && (decision === 'continue' || decision === 'retry')) body.modifications = parsed.value;
      if (comment.trim()) body.comment = comment.trim();
      try {
        await api.call('decide', { params: { id }, body });
      } finally {
        setPending(null); // the dialog closes either way; a refusal shows inline above the buttons
      }
      detail.reload();
      onDecided();
    });
  };

  return (
    <section className="card" aria-labelledby="approval-title">
      <header className="panel-header">
        <h2 id="approval-title">{approval.prompt}</h2>
        <StatusBadge status={approval.status} />
      </header>
      <p>
        Run <Link to={`/runs/${approval.runId}`} className="mono">{approval.runId.slice(0, 8)}</Link> · {approval.definition} · step <code>{approval.stepKey}</code>
        {approval.expiresAt ? <> · expires {formatTime(approval.expiresAt)} (then {approval.onTimeout})</> : null}
        {approval.quorum > 1 ? <> · needs {approval.quorum} approvals</> : null}
      </p>
      <h3>What you decide on</h3>
      <Json value={approval.payload} label="approval payload" />
      {mayDecide ? (
        <form
          className="decision-form"
          onSubmit={(e) => e.preventDefault()}
          aria-label="Decision"
        >
          <div className="field">
            <label htmlFor="modifications">Modifications (JSON, optional)</label>
            <small className="muted">
              {schema ? 'Checked against the step’s modificationsSchema as you type.' : 'Merged into the output (continue) or the input (retry).'}
            </small>
            <textarea
              id="modifications"
              className="code"
              rows={6}
              value={text}
              placeholder='{ "text": "…" }'
              aria-invalid={parsed.problems.length > 0}
              aria-describedby={parsed.problems.length ? 'modifications-errors' : undefined}
              onChange={(e) => setText(e.target.value)}
            />
            {parsed.problems.length ? (
              <ul className="field-errors" id="modifications-errors">
                {parsed.problems.map((p, i) => (
                  <li key={i}>
                    <code>{p.path}</code> {p.message}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
          {schema ? (
            <details>
              <summary>modificationsSchema</summary>
              <Json value={schema} label="modifications schema" />
            </details>
          ) : null}
          <div className="field">
            <label htmlFor="comment">Comment (optional)</label>
            <textarea id="comment" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
          </div>
          <InlineError error={error} />
          <div className="actions">
            {approval.decisions.map((d) => (
              <button
                key={d}
                type="button"
                className={d === 'continue' ? 'primary' : d === 'abort' ? 'danger' : undefined}
                disabled={busy || ((d === 'continue' || d === 'retry') && parsed.problems.length > 0)}
                onClick={() => setPending(d)}
              >
                {LABELS[d] ?? d}
              </button>
            ))}
          </div>
        </form>
      ) : approval.status === 'pending' ? (
        <p className="muted">Your role ({session.role}) may read this approval but not decide it.</p>
      ) : null}
      <h3>Decision history</h3>
      {approval.history.length === 0 ? (
        <p className="muted">No decision yet.</p>
      ) : (
        <ol className="history">
          {approval.history.map((h) => (
            <li key={h.id}>
              <p>
                <StatusBadge status={h.decision} /> by {h.decidedByEmail ?? h.actorType} {h.reason === 'timeout' ? '(timeout)' : ''} ·{' '}
                {formatTime(h.createdAt)}
              </p>
              {h.comment ? <blockquote>{h.comment}</blockquote> : null}
              <DiffTable ops={Array.isArray(h.modificationsDiff) ? (h.modificationsDiff as DiffOp[]) : []} />
            </li>
          ))}
        </ol>
      )}
      {pending ? (
        <ConfirmDialog
          title={`${LABELS[pending] ?? pending}?`}
          confirmLabel={LABELS[pending] ?? pending}
          danger={pending === 'abort'}
          busy={busy}
          onCancel={() => setPending(null)}
          onConfirm={() => void decide(pending)}
        >
          <p>
            {pending === 'abort'
              ? 'The run is cancelled.'
              : pending === 'skip'
                ? 'The step is skipped; its dependents get null.'
                : parsed.value !== undefined
                  ? 'Your modifications are applied.'
                  : 'No modifications.'}
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

/** The diff of a decision's modifications against what the approver saw. */
export function DiffTable({ ops }: { ops: DiffOp[] }) {
  if (ops.length === 0) return <p className="muted small">No modifications.</p>;
  return (
    <table className="table diff-table" aria-label="Modifications diff">
      <thead>
        <tr>
          <th scope="col">Change</th>
          <th scope="col">Path</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {ops.map((op, i) => (
          <tr key={i} className={`diff-${op.op}`}>
            <td>{op.op}</td>
            <td>
              <code>{op.path}</code>
            </td>
            <td>
              <code className="diff-old">{op.from === undefined ? '—' : JSON.stringify(op.from)}</code>
            </td>
            <td>
              <code className="diff-new">{op.to === undefined ? '—' : JSON.stringify(op.to)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
