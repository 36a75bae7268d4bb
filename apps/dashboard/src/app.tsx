import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient } from './api/client';
import { can, type Session } from './lib/jwt';
import { Link, useLocation } from './lib/router';
import { AgentsPage } from './pages/agents';
import { ApprovalsPage } from './pages/approvals';
import { DefinitionsPage } from './pages/definitions';
import { LoginPage } from './pages/login';
import { RunPage } from './pages/run';
import { RunsPage } from './pages/runs';
import { WebhooksPage } from './pages/webhooks';
import { AppContext, useApp } from './session';

const NAV = [
  { to: '/runs', label: 'Runs' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/definitions', label: 'Definitions' },
  { to: '/webhooks', label: 'Webhooks', admin: true },
  { to: '/agents', label: 'Agents' },
];

/** The session (JWT) lives in this component's state only: never in storage, gone on reload or logout. */
export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const logout = useCallback(() => setSession(null), []);
  const api = useMemo(() => new ApiClient(() => session?.token ?? null, logout), [session, logout]);
  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(logout, Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session, logout]);
  if (!session) return <LoginPage onLogin={setSession} />;
  return (
    <AppContext.Provider value={{ session, api, logout }}>
      <Shell />
    </AppContext.Provider>
  );
}

function Shell() {
  const { path } = useLocation();
  const ctx = useApp();
  return (
        <>
          <a href="#main" className="skip-link">
            Skip to content
          </a>
          <header className="topbar">
            <span className="brand">Baton</span>
            <nav aria-label="Main">
              <ul>
                {NAV.filter((n) => !n.admin || can.administer(ctx.session.role)).map((n) => (
                  <li key={n.to}>
                    <Link to={n.to} aria-current={path === n.to || path.startsWith(`${n.to}/`) || (n.to === '/runs' && path === '/') ? 'page' : undefined}>
                      {n.label}
                    </Link>
                  </li>
                ))}
              </ul>
            </nav>
            <span className="who">
              {ctx.session.email} <span className="role">{ctx.session.role}</span>
            </span>
            <button type="button" onClick={ctx.logout}>
              Sign out
            </button>
          </header>
          <main id="main" tabIndex={-1}>
            <Route path={path} />
          </main>
        </>
  );
}

function Route({ path }: { path: string }) {
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return <RunPage key={run[1]} id={decodeURIComponent(run[1]!)} />;
  if (path === '/' || path === '/runs') return <RunsPage />;
  if (path === '/approvals') return <ApprovalsPage />;
  if (path === '/definitions' || path.startsWith('/definitions/')) return <DefinitionsPage />;
  if (path === '/webhooks') return <WebhooksPage />;
  if (path === '/agents' || path.startsWith('/agents/')) return <AgentsPage />;
  return (
    <div className="state state-empty">
      <p className="state-title">No such page.</p>
      <Link to="/runs">Go to the runs</Link>
    </div>
  );
}
