import { useState } from 'react';
import type { Definition, DefinitionSummary, Page, Run } from '../api/types';
import { SchemaForm } from '../components/schema-form';
import { ErrorState, InlineError, Loading } from '../components/states';
import { navigate } from '../lib/router';
import { useAction, useLoad } from '../lib/use-api';
import { useApp } from '../session';

/** Pick an active definition; its input JSON Schema becomes the form; the run starts and its page opens. */
export function StartRunPanel({ definitions, initial }: { definitions: DefinitionSummary[]; initial?: string }) {
  const { api } = useApp();
  const active = definitions.filter((d) => d.status === 'active');
  const [slug, setSlug] = useState(initial ?? '');
  const { busy, error, run } = useAction();
  const definition = useLoad<Definition | null>(
    (signal) => (slug ? api.call<Definition>('getDefinition', { params: { slug }, signal }) : Promise.resolve(null)),
    [slug],
  );

  const start = async (input: unknown) => {
    await run(async () => {
      const run = await api.call<Run>('startRun', { body: { definition: slug, input } });
      navigate(`/runs/${run.id}`);
    });
  };

  return (
    <section className="card" aria-labelledby="start-run-title">
      <h2 id="start-run-title">Start a run</h2>
      <div className="field">
        <label htmlFor="start-definition">Definition to run</label>
        <select id="start-definition" value={slug} onChange={(e) => setSlug(e.target.value)}>
          <option value="">Choose a definition…</option>
          {active.map((d) => (
            <option key={d.slug} value={d.slug}>
              {d.name} ({d.slug} v{d.version})
            </option>
          ))}
        </select>
      </div>
      {!slug ? null : definition.error ? (
        <ErrorState error={definition.error} what="the definition" retry={definition.reload} />
      ) : !definition.data || definition.data.slug !== slug ? (
        <Loading what="the input form" />
      ) : (
        <>
          {definition.data.description ? <p className="muted">{definition.data.description}</p> : null}
          <SchemaForm
            key={`${slug}@${definition.data.version}`}
            idPrefix="start"
            schema={definition.data.spec.input}
            submitLabel="Start run"
            busy={busy}
            onSubmit={(input) => void start(input)}
            serverProblems={(error?.details ?? []).map((d) => ({ path: (d.path ?? '$').replace(/^\$\.input/, '$'), message: d.message }))}
          />
          {error && !error.details?.length ? <InlineError error={error} /> : null}
        </>
      )}
    </section>
  );
}

export type DefinitionList = Page<DefinitionSummary>;
