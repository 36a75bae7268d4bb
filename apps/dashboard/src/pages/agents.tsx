import type { AgentDetail, Agent } from '../api/types';
import { Empty, ErrorState, formatDuration, formatTime, Loading, StatusBadge } from '../components/states';
import { Link, useLocation } from '../lib/router';
import { useLoad } from '../lib/use-api';
import { useApp } from '../session';

const percent = (ratio: number | null) => (ratio === null ? '—' : `${Math.round(ratio * 1000) / 10}%`);
const ms = (value: number | null) => (value === null ? '—' : formatDuration(value));

/** The agent registry: each agent's state, reported health and circuit breaker; one agent's stats and recent errors. */
export function AgentsPage() {
  const { api } = useApp();
  const { path } = useLocation();
  const slug = path.startsWith('/agents/') ? decodeURIComponent(path.slice('/agents/'.length)) : null;
  const list = useLoad((signal) => api.call<{ items: Agent[] }>('listAgents', { signal }).then((page) => page.items), []);
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
        <Empty title="No agents registered.">Admins register agents with POST /agents (docs/agents.md); the built-ins always show here.</Empty>
      ) : (
        <div className="split">
          <table className="table split-main" aria-label="Agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Health</th>
                <th scope="col">Breaker</th>
                <th scope="col">Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((a) => (
                <tr key={a.slug} data-agent={a.slug}>
                  <td>
                    <Link to={`/agents/${encodeURIComponent(a.slug)}`} aria-current={a.slug === slug ? 'page' : undefined}>
                      {a.slug}
                    </Link>
                    {a.builtin ? <span className="muted small"> built-in</span> : null}
                  </td>
                  <td>{a.type}</td>
                  <td>
                    <StatusBadge status={a.status} />
                  </td>
                  <td>
                    <StatusBadge status={a.health} />
                  </td>
                  <td>
                    <StatusBadge status={a.breaker.state} />
                  </td>
                  <td>{formatTime(a.lastHeartbeatAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {slug ? (
            <AgentPanel key={slug} slug={slug} />
          ) : (
            <div className="split-side">
              <Empty title="No agent selected.">Select an agent to see its error rate, latency and recent errors.</Empty>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function AgentPanel({ slug }: { slug: string }) {
  const { api } = useApp();
  const agent = useLoad((signal) => api.call<AgentDetail>('getAgent', { params: { slug }, signal }), [slug]);
  if (agent.error) return <ErrorState error={agent.error} what="the agent" retry={agent.reload} />;
  if (!agent.data) return <Loading what="the agent" />;
  const a = agent.data;
  const errors = a.recentSteps.filter((s) => s.status === 'failed' || s.errorCode);
  return (
    <section className="card split-side" aria-labelledby="agent-title">
      <header className="panel-header">
        <h2 id="agent-title">{a.name}</h2>
        <StatusBadge status={a.status} />
      </header>
      {a.description ? <p>{a.description}</p> : null}
      <dl className="facts">
        <dt>Slug</dt>
        <dd className="mono">{a.slug}</dd>
        <dt>Capabilities</dt>
        <dd>{a.capabilities.length ? a.capabilities.join(', ') : 'none'}</dd>
        <dt>Health</dt>
        <dd>
          <StatusBadge status={a.health} /> <span className="muted small">score {Math.round(a.stats.healthScore * 100)}%</span>
        </dd>
        <dt>Breaker</dt>
        <dd>
          <StatusBadge status={a.breaker.state} /> {a.breaker.changedAt ? <span className="muted small">since {formatTime(a.breaker.changedAt)}</span> : null}
        </dd>
        <dt>Error rate</dt>
        <dd>
          {percent(a.stats.errorRate)} <span className="muted small">of the last {a.stats.sampleSize} steps</span>
        </dd>
        <dt>Latency</dt>
        <dd>
          {ms(a.stats.avgLatencyMs)} average, {ms(a.stats.p95LatencyMs)} p95
        </dd>
        <dt>Running now</dt>
        <dd>{a.stats.running}</dd>
      </dl>
      <h3>Recent errors ({errors.length})</h3>
      {errors.length === 0 ? (
        <p className="muted">No errors in its last {a.recentSteps.length} finished steps.</p>
      ) : (
        <ul className="event-list" aria-label="Recent errors">
          {errors.map((e) => (
            <li key={`${e.runId}:${e.stepKey}:${e.attempt}`}>
              {formatTime(e.completedAt)} <code>{e.errorCode ?? e.status}</code> in{' '}
              <Link to={`/runs/${e.runId}?step=${encodeURIComponent(e.stepKey)}`} className="mono">
                {e.runId.slice(0, 8)}
              </Link>{' '}
              step <code>{e.stepKey}</code> (attempt {e.attempt})
            </li>
          ))}
        </ul>
      )}
      <h3>Recent steps</h3>
      {a.recentSteps.length === 0 ? (
        <p className="muted">This agent has run no step yet.</p>
      ) : (
        <table className="table" aria-label="Recent steps">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Status</th>
              <th scope="col">Latency</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {a.recentSteps.map((s) => (
              <tr key={`${s.runId}:${s.stepKey}:${s.attempt}`}>
                <td>
                  <Link to={`/runs/${s.runId}?step=${encodeURIComponent(s.stepKey)}`}>{s.stepKey}</Link>
                </td>
                <td>
                  <StatusBadge status={s.status} />
                </td>
                <td>{ms(s.latencyMs)}</td>
                <td className="small">{formatTime(s.completedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
