import { diffLines } from 'diff';
import { useState } from 'react';
import type { DefinitionSummary, Page, ValidationReport } from '../api/types';
import { Empty, ErrorState, formatTime, InlineError, Loading, StatusBadge } from '../components/states';
import { can } from '../lib/jwt';
import { Link, navigate, useLocation } from '../lib/router';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

interface StructuredDiff {
  added: string[];
  removed: string[];
  changed: { key: string; fields: string[] }[];
  definitionChanges: string[];
}

export function DefinitionsPage() {
  const { api } = useApp();
  const { search, path } = useLocation();
  const slug = path.startsWith('/definitions/') ? decodeURIComponent(path.slice('/definitions/'.length)) : null;
  const [text, setText] = useState(search.get('q') ?? '');
  const list = useLoad<Page<DefinitionSummary>>(
    (signal) => api.call('listDefinitions', { query: { search: search.get('q') || undefined, limit: 200 }, signal }),
    [search.get('q')],
  );
  return (
    <div className="page">
      <header className="page-header">
        <h1>Definitions</h1>
      </header>
      <div className="split">
        <div className="split-list">
          <form
            role="search"
            className="search"
            onSubmit={(e) => {
              e.preventDefault();
              navigate(`/definitions${slug ? `/${encodeURIComponent(slug)}` : ''}${text ? `?q=${encodeURIComponent(text)}` : ''}`);
            }}
          >
            <label htmlFor="def-search">Search definitions</label>
            <input id="def-search" value={text} onChange={(e) => setText(e.target.value)} placeholder="slug or name" />
            <button type="submit">Search</button>
          </form>
          {list.error ? (
            <ErrorState error={list.error} what="definitions" retry={list.reload} />
          ) : !list.data ? (
            <Loading what="definitions" />
          ) : list.data.items.length === 0 ? (
            <Empty title="No definitions match.">Create one with POST /orchestrations/definitions (YAML or JSON).</Empty>
          ) : (
            <ul className="inbox" aria-label="Definitions">
              {list.data.items.map((d) => (
                <li key={d.slug}>
                  <Link to={`/definitions/${encodeURIComponent(d.slug)}`} className={`inbox-item${d.slug === slug ? ' selected' : ''}`} aria-current={d.slug === slug ? 'page' : undefined}>
                    <strong>{d.name}</strong>
                    <span>
                      <code>{d.slug}</code> v{d.version}
                    </span>
                    <StatusBadge status={d.status} />
                  </Link>
                </li>
              ))}
            </ul>
          )}
          <ValidatePanel />
        </div>
        <div className="split-main">{slug ? <DefinitionView key={slug} slug={slug} /> : <Empty title="Select a definition.">Its YAML, versions and diffs show here.</Empty>}</div>
      </div>
    </div>
  );
}

function DefinitionView({ slug }: { slug: string }) {
  const { api, session } = useApp();
  // Oldest first, one page of up to 200 (the API's largest page): a definition with more versions shows its first 200.
  const versions = useLoad<DefinitionSummary[]>(
    (signal) => api.call<Page<DefinitionSummary>>('definitionVersions', { params: { slug }, query: { limit: 200 }, signal }).then((page) => page.items),
    [slug],
  );
  const latest = versions.data?.at(-1)?.version;
  const [version, setVersion] = useState<number>();
  const [compare, setCompare] = useState<number>();
  const shown = version ?? latest;
  const yaml = useLoad<string | null>(
    (signal) => (shown ? api.call<string>('getDefinition', { params: { slug }, query: { version: shown }, accept: 'application/yaml', signal }) : Promise.resolve(null)),
    [slug, shown],
  );
  const other = useLoad<{ yaml: string; diff: StructuredDiff } | null>(
    async (signal) => {
      if (!compare || !shown || compare === shown) return null;
      const [otherYaml, diff] = await Promise.all([
        api.call<string>('getDefinition', { params: { slug }, query: { version: compare }, accept: 'application/yaml', signal }),
        api.call<StructuredDiff>('definitionDiff', { params: { slug }, query: { from: compare, to: shown }, signal }),
      ]);
      return { yaml: otherYaml, diff };
    },
    [slug, shown, compare],
  );

  if (versions.error) return <ErrorState error={versions.error} what="the definition" retry={versions.reload} />;
  if (!versions.data) return <Loading what="the definition" />;
  const current = versions.data.find((v) => v.version === shown);
  return (
    <section className="card" aria-labelledby="def-title">
      <header className="panel-header">
        <h2 id="def-title">
          {current?.name ?? slug} <span className="muted">v{shown}</span>
        </h2>
        {current ? <StatusBadge status={current.status} /> : null}
        {can.operate(session.role) && current?.status === 'active' ? <Link to={`/runs?start=${encodeURIComponent(slug)}`}>Start a run</Link> : null}
      </header>
      {current?.description ? <p>{current.description}</p> : null}
      <div className="filters">
        <div className="field">
          <label htmlFor="def-version">Version</label>
          <select id="def-version" value={shown} onChange={(e) => setVersion(Number(e.target.value))}>
            {versions.data.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version} · {v.status} · {formatTime(v.createdAt)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="def-compare">Compare with</label>
          <select id="def-compare" value={compare ?? ''} onChange={(e) => setCompare(e.target.value ? Number(e.target.value) : undefined)}>
            <option value="">No comparison</option>
            {versions.data
              .filter((v) => v.version !== shown)
              .map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
          </select>
        </div>
      </div>
      {other.error ? <ErrorState error={other.error} what="the comparison" /> : null}
      {other.data && yaml.data ? (
        <>
          <h3>
            Changes from v{compare} to v{shown}
          </h3>
          <ul className="diff-summary">
            {other.data.diff.added.length ? <li>Steps added: {other.data.diff.added.join(', ')}</li> : null}
            {other.data.diff.removed.length ? <li>Steps removed: {other.data.diff.removed.join(', ')}</li> : null}
            {other.data.diff.changed.map((c) => (
              <li key={c.key}>
                Step <code>{c.key}</code> changed: {c.fields.join(', ')}
              </li>
            ))}
            {other.data.diff.definitionChanges.length ? <li>Fields changed: {other.data.diff.definitionChanges.join(', ')}</li> : null}
            {!other.data.diff.added.length && !other.data.diff.removed.length && !other.data.diff.changed.length && !other.data.diff.definitionChanges.length ? (
              <li>No differences.</li>
            ) : null}
          </ul>
          <YamlDiff before={other.data.yaml} after={yaml.data} />
        </>
      ) : yaml.error ? (
        <ErrorState error={yaml.error} what="the YAML" retry={yaml.reload} />
      ) : yaml.data ? (
        <pre className="json yaml" aria-label={`YAML of ${slug} v${shown}`} tabIndex={0}>
          {yaml.data}
        </pre>
      ) : (
        <Loading what="the YAML" />
      )}
    </section>
  );
}

/** A line diff of two YAML versions; removed and added lines are marked with - and + as well as colour. */
export function YamlDiff({ before, after }: { before: string; after: string }) {
  const parts = diffLines(before, after);
  return (
    <pre className="json yaml-diff" aria-label="Line diff" tabIndex={0}>
      {parts.flatMap((part, i) =>
        part.value
          .replace(/\n$/, '')
          .split('\n')
          .map((line, j) => (
            <span key={`${i}-${j}`} className={part.added ? 'diff-add' : part.removed ? 'diff-del' : undefined}>
              {part.added ? '+ ' : part.removed ? '- ' : '  '}
              {line}
              {'\n'}
            </span>
          )),
      )}
    </pre>
  );
}

function ValidatePanel() {
  const { api } = useApp();
  const [yaml, setYaml] = useState('');
  const [report, setReport] = useState<ValidationReport>();
  const { busy, error, run } = useAction();
  const validate = async () => {
    await run(async () => {
      setReport(await api.call<ValidationReport>('validateDefinition', { text: { body: yaml, contentType: 'application/yaml' } }));
    });
  };
  return (
    <section className="card" aria-labelledby="validate-title">
      <h2 id="validate-title">Validate a definition</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void validate();
        }}
      >
        <label htmlFor="validate-yaml">Paste YAML (or JSON)</label>
        <textarea id="validate-yaml" className="code" rows={8} value={yaml} onChange={(e) => setYaml(e.target.value)} />
        <button type="submit" disabled={busy || !yaml.trim()}>
          {busy ? 'Validating…' : 'Validate'}
        </button>
      </form>
      <InlineError error={error} />
      {report ? (
        report.valid ? (
          <p className="ok-text" role="status">
            ✓ Valid: saving it would succeed.
          </p>
        ) : (
          <div role="alert">
            <p className="bad-text">✕ {report.problems.length} problem{report.problems.length > 1 ? 's' : ''}:</p>
            <ul className="field-errors">
              {report.problems.map((p, i) => (
                <li key={i}>
                  <code>{p.path}</code> {p.message}
                </li>
              ))}
            </ul>
          </div>
        )
      ) : null}
    </section>
  );
}
