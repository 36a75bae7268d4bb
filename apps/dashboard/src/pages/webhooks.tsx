import { useState } from 'react';
import type { Delivery, Page, Webhook } from '../api/types';
import { ConfirmDialog } from '../components/confirm';
import { Empty, ErrorState, formatTime, InlineError, Loading, StatusBadge } from '../components/states';
import { navigate, useLocation } from '../lib/router';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

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
                  <StatusBadge status={w.active ? 'delivered' : 'cancelled'} />
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
  const confirm = async () => {
    if (!redeliver) return;
    await run(async () => {
      await api.call('redeliver', { params: { id, deliveryId: redeliver.id } });
      setRedeliver(null);
      page.reload();
    });
  };
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
