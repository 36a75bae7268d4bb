import type { Agent, Page } from '../api/types';
import { Empty, ErrorState, formatTime, Json, Loading, StatusBadge } from '../components/states';
import { Link, useLocation } from '../lib/router';
import { useLoad } from '../lib/use-api';
import { useApp } from '../session';

/** `GET /agents` answers a page or (older servers) a bare list; read both. */
const itemsOf = (answer: Page<Agent> | Agent[]): Agent[] => (Array.isArray(answer) ? answer : answer.items);

function breakerState(agent: Agent): string | null {
  const b = agent.breaker ?? (agent.health as { breaker?: Agent['breaker'] } | null)?.breaker;
  if (!b) return null;
  return typeof b === 'string' ? b : (b.state ?? null);
}

/** The agent registry: health, circuit breaker and recent errors (a clear notice while the server has no such API). */
export function AgentsPage() {
  const { api } = useApp();
  const { path } = useLocation();
  const slug = path.startsWith('/agents/') ? decodeURIComponent(path.slice('/agents/'.length)) : null;
  const list = useLoad((signal) => api.call<Page<Agent> | Agent[]>('listAgents', { signal }).then(itemsOf), []);
  if (list.error?.status === 404)
    return (
      <div className="page">
        <h1>Agents</h1>
        <div className="state state-empty" role="status">
          <p className="state-title">The agent registry is not available on this server.</p>
          <p>
            This Baton version does not serve <code>GET /agents</code> yet. Agents still run: their steps show in each run’s graph and
            step panel.
          </p>
        </div>
      </div>
    );
  return (
    <div className="page">
      <header className="page-header">
        <h1>Agents</h1>
      </header>
      {list.error ? (
        <ErrorState error={list.error} what="agents" retry={list.reload} />
      ) : !list.data ? (
        <Loading what="agents" />
      ) : list.data.length === 0 ? (
        <Empty title="No agents registered." />
      ) : (
        <div className="split">
          <table className="table split-main" aria-label="Agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Breaker</th>
                <th scope="col">Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((a) => (
                <tr key={a.slug}>
                  <td>
                    <Link to={`/agents/${encodeURIComponent(a.slug)}`}>{a.slug}</Link>
                  </td>
                  <td>{a.type ?? '—'}</td>
                  <td>{a.status ? <StatusBadge status={a.status} /> : '—'}</td>
                  <td>{breakerState(a) ? <StatusBadge status={breakerState(a)!} /> : '—'}</td>
                  <td>{formatTime(a.lastHeartbeatAt ?? null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {slug ? <AgentDetail key={slug} slug={slug} /> : null}
        </div>
      )}
    </div>
  );
}

function AgentDetail({ slug }: { slug: string }) {
  const { api } = useApp();
  const agent = useLoad((signal) => api.call<Agent>('getAgent', { params: { slug }, signal }), [slug]);
  if (agent.error) return <ErrorState error={agent.error} what="the agent" retry={agent.reload} />;
  if (!agent.data) return <Loading what="the agent" />;
  const errors = agent.data.recentErrors ?? (agent.data.health as { recentErrors?: Agent['recentErrors'] } | null)?.recentErrors ?? [];
  return (
    <section className="card split-side" aria-labelledby="agent-title">
      <h2 id="agent-title">{slug}</h2>
      <h3>Health</h3>
      <Json value={agent.data.health} label="health" />
      <h3>Circuit breaker</h3>
      <Json value={agent.data.breaker} label="breaker" />
      <h3>Recent errors</h3>
      {errors.length === 0 ? (
        <p className="muted">No recent errors.</p>
      ) : (
        <ul>
          {errors.map((e, i) => (
            <li key={i}>
              {formatTime(e.at ?? null)} <code>{e.code}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
