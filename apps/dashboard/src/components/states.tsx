import type { ReactNode } from 'react';
import type { ApiError } from '../api/client';
import { statusLook } from '../lib/status';

export function StatusBadge({ status }: { status: string }) {
  const look = statusLook(status);
  return (
    <span className={`badge tone-${look.tone}`} data-status={status}>
      <span aria-hidden="true" className="badge-icon">
        {look.icon}
      </span>
      {look.label}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="state state-loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

/** An error from the API, with its message (and the field problems, if any), and a way to try again. */
export function ErrorState({ error, retry, what }: { error: ApiError; retry?: () => void; what: string }) {
  const title =
    error.status === 0
      ? `Could not reach the server to load ${what}.`
      : error.status === 403
        ? `Your role may not see ${what}.`
        : error.status === 404
          ? `Could not find ${what}: it does not exist, or not in your organization.`
          : `Loading ${what} failed (${error.status}).`;
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title}</p>
      <p>{error.message}</p>
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function InlineError({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <div className="inline-error" role="alert">
      <p>{error.message}</p>
      {error.details?.length ? (
        <ul>
          {error.details.map((d, i) => (
            <li key={i}>
              {d.path ? <code>{d.path}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  if (value === undefined || value === null) return <p className="muted">No {label}.</p>;
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Progress({ percent, label }: { percent: number; label: string }) {
  const value = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <span className="progress">
      <progress max={100} value={value} aria-label={label} />
      <span className="progress-text">{value}%</span>
    </span>
  );
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
