import { useEffect, useState } from 'react';
import type { Delivery, Page, Webhook } from '../api/types';
import { ConfirmDialog } from '../components/confirm';
import { Empty, ErrorState, formatTime, InlineError, Loading, StatusBadge } from '../components/states';
import { navigate, useLocation } from '../lib/router';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

/** A redelivered delivery is re-read this often until its next attempt has an outcome (the list is not live). */
const FOLLOW_MS = 1000;

/** Whether a redelivered delivery's new attempt has an outcome: delivered, dead, or one more failed attempt. */
const hasOutcome = (d: Delivery, fromAttempts: number) => d.status === 'delivered' || d.status === 'dead' || d.attempts > fromAttempts;

/** Webhook subscriptions, their deliveries (all, or only the dead letters) and redelivery. The API is admin-only. */
export function WebhooksPage() {
  const { api } = useApp();
  const { search } = useLocation();
  const list = useLoad<Page<Webhook>>((signal) => api.call('listWebhooks', { query: { limit: 100 }, signal }), []);
  const selected = search.get('id') ?? list.data?.items[0]?.id ?? null;
  return (
    <div className="page">
      <header className="page-header">
        <h1>Webhooks</h1>
      </header>
      {list.error ? (
        <ErrorState error={list.error} what="webhooks" retry={list.reload} />
      ) : !list.data ? (
        <Loading what="webhooks" />
      ) : list.data.items.length === 0 ? (
        <Empty title="No webhook subscriptions.">Subscribe a URL with POST /webhooks (see docs/webhooks.md).</Empty>
      ) : (
        <div className="split">
          <ul className="split-list inbox" aria-label="Webhook subscriptions">
            {list.data.items.map((w) => (
              <li key={w.id}>
                <button type="button" className={`inbox-item${w.id === selected ? ' selected' : ''}`} aria-current={w.id === selected} onClick={() => navigate(`/webhooks?id=${w.id}`)}>
                  <strong className="mono">{w.url}</strong>
                  <span>{w.description ?? ''}</span>
                  <span className="muted small">{w.eventTypes.length ? w.eventTypes.join(', ') : 'every event'}</span>
                  <StatusBadge status={w.active ? 'active' : 'disabled'} />
                </button>
              </li>
            ))}
          </ul>
          <div className="split-main">{selected ? <Deliveries key={selected} id={selected} /> : null}</div>
        </div>
      )}
    </div>
  );
}

function Deliveries({ id }: { id: string }) {
  const { api } = useApp();
  const [status, setStatus] = useState('');
  const [offset, setOffset] = useState(0);
  const [redeliver, setRedeliver] = useState<Delivery | null>(null);
  const { busy, error, run } = useAction();
  const page = useLoad<Page<Delivery>>(
    (signal) => api.call('webhookDeliveries', { params: { id }, query: { status: status || undefined, limit: 25, offset }, signal }),
    [id, status, offset],
  );
  // The delivery last redelivered, followed until the attempt it was scheduled for has an outcome.
  const [followed, setFollowed] = useState<{ delivery: Delivery; fromAttempts: number } | null>(null);
  const confirm = async () => {
    if (!redeliver) return;
    await run(async () => {
      const scheduled = await api.call<Delivery>('redeliver', { params: { id, deliveryId: redeliver.id } });
      setFollowed({ delivery: scheduled, fromAttempts: scheduled.attempts });
      setRedeliver(null);
      page.reload();
    });
  };
  const settled = followed ? hasOutcome(followed.delivery, followed.fromAttempts) : true;
  useEffect(() => {
    if (!followed || settled) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .call<Page<Delivery>>('webhookDeliveries', { params: { id }, query: { eventId: followed.delivery.eventId, limit: 5 }, signal: controller.signal })
        .then((found) => {
          const fresh = found.items.find((d) => d.id === followed.delivery.id);
          setFollowed((current) => (current && fresh ? { ...current, delivery: fresh } : current));
          if (fresh && hasOutcome(fresh, followed.fromAttempts)) page.reload();
        })
        // A failed read is tried again at the next tick (a new object, so the effect runs again).
        .catch(() => setFollowed((current) => (current && !controller.signal.aborted ? { ...current } : current)));
    }, FOLLOW_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, id, followed, settled, page.reload]);
  return (
    <section className="card" aria-labelledby="deliveries-title">
      <header className="panel-header">
        <h2 id="deliveries-title">Deliveries</h2>
        <div className="field inline">
          <label htmlFor="d-status">Show</label>
          <select
            id="d-status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">All deliveries</option>
            <option value="dead">Dead letters</option>
            <option value="pending">Pending</option>
            <option value="delivered">Delivered</option>
          </select>
        </div>
      </header>
      <InlineError error={error} />
      {followed ? (
        <p className="notice" role="status" data-testid="redelivery">
          {settled ? 'Redelivered' : 'Redelivering'} event #{followed.delivery.eventId}: <StatusBadge status={followed.delivery.status} />
          {settled ? ` after attempt ${followed.delivery.attempts}` : ''}
          {settled && (followed.delivery.lastStatusCode || followed.delivery.lastError) ? ` (answer: ${followed.delivery.lastStatusCode ?? followed.delivery.lastError})` : ''}
          {settled && followed.delivery.status === 'pending' && followed.delivery.nextAttemptAt ? `; tried again at ${formatTime(followed.delivery.nextAttemptAt)}` : ''}
        </p>
      ) : null}
      {page.error ? (
        <ErrorState error={page.error} what="deliveries" retry={page.reload} />
      ) : !page.data ? (
        <Loading what="deliveries" />
      ) : page.data.items.length === 0 ? (
        <Empty title={status === 'dead' ? 'No dead letters: every delivery got through or is still trying.' : 'No deliveries yet.'} />
      ) : (
        <>
          <table className="table" aria-label="Deliveries">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    {d.eventType} <span className="mono muted">#{d.eventId}</span>
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>{d.attempts}</td>
                  <td>{d.lastStatusCode ?? d.lastError ?? '—'}</td>
                  <td>{formatTime(d.createdAt)}</td>
                  <td>
                    {d.status !== 'delivering' ? (
                      <button type="button" onClick={() => setRedeliver(d)}>
                        Redeliver…
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages of deliveries">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 25))}>
              ← Newer
            </button>
            <span>
              {offset + 1}–{offset + page.data.items.length} of {page.data.total}
            </span>
            <button type="button" disabled={offset + 25 >= page.data.total} onClick={() => setOffset(offset + 25)}>
              Older →
            </button>
          </nav>
        </>
      )}
      {redeliver ? (
        <ConfirmDialog title={`Redeliver event #${redeliver.eventId}?`} confirmLabel="Redeliver" busy={busy} onCancel={() => setRedeliver(null)} onConfirm={() => void confirm()}>
          <p>It is sent again within a second, with a fresh retry budget. Receivers must tolerate duplicates (same event id).</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
