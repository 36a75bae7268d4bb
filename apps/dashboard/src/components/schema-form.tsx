import { useMemo, useState } from 'react';
import type { JsonSchema } from '../api/types';
import { fieldsOf, inputFrom, validateAgainst, type FieldProblem } from '../lib/schema';

/**
 * A form generated from a JSON Schema (a definition's input schema). Checks the value with ajv before calling
 * `onSubmit`; problems (from ajv, or from the server through `serverProblems`) are shown at their fields.
 */
export function SchemaForm({
  schema,
  submitLabel,
  onSubmit,
  busy,
  serverProblems = [],
  idPrefix,
}: {
  schema: JsonSchema | undefined;
  submitLabel: string;
  onSubmit: (input: unknown) => void;
  busy?: boolean;
  serverProblems?: FieldProblem[];
  idPrefix: string;
}) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const [values, setValues] = useState<Record<string, string | boolean>>(() => Object.fromEntries(fields.map((f) => [f.name, f.defaultValue])));
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const shown = problems.length ? problems : serverProblems;
  const problemsAt = (name: string) =>
    shown.filter((p) => p.path === (name ? `$.${name}` : '$') || p.path === `$.input.${name}` || (!name && !fields.some((f) => f.name && p.path.startsWith(`$.${f.name}`))));
  const general = shown.filter((p) => !fields.some((f) => f.name && (p.path === `$.${f.name}` || p.path === `$.input.${f.name}` || p.path.startsWith(`$.${f.name}.`) || p.path.startsWith(`$.${f.name}[`))));

  const submit = () => {
    const { input, problems: parseProblems } = inputFrom(fields, values);
    const all = parseProblems.length ? parseProblems : schema ? validateAgainst(schema, input) : [];
    setProblems(all);
    if (all.length === 0) onSubmit(input);
  };

  return (
    <form
      className="schema-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {fields.map((field) => {
        const id = `${idPrefix}-${field.name || 'input'}`;
        const errors = field.name ? problemsAt(field.name) : [];
        const errorId = `${id}-errors`;
        const common = { id, 'aria-invalid': errors.length > 0, 'aria-describedby': errors.length ? errorId : undefined };
        const set = (value: string | boolean) => setValues((v) => ({ ...v, [field.name]: value }));
        return (
          <div className="field" key={id}>
            <label htmlFor={id}>
              {field.label}
              {field.required ? <span aria-hidden="true"> *</span> : null}
              {field.required ? <span className="sr-only"> (required)</span> : null}
            </label>
            {field.description ? <small className="muted">{field.description}</small> : null}
            {field.kind === 'boolean' ? (
              <input type="checkbox" {...common} checked={Boolean(values[field.name])} onChange={(e) => set(e.target.checked)} />
            ) : field.kind === 'select' ? (
              <select {...common} value={String(values[field.name])} onChange={(e) => set(e.target.value)}>
                <option value="">—</option>
                {field.options?.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            ) : field.kind === 'json' ? (
              <textarea {...common} rows={4} className="code" value={String(values[field.name])} onChange={(e) => set(e.target.value)} />
            ) : (
              <input
                {...common}
                type={field.kind === 'text' ? 'text' : 'number'}
                step={field.kind === 'integer' ? 1 : 'any'}
                value={String(values[field.name])}
                onChange={(e) => set(e.target.value)}
              />
            )}
            {errors.length ? (
              <ul className="field-errors" id={errorId}>
                {errors.map((p, i) => (
                  <li key={i}>{p.message}</li>
                ))}
              </ul>
            ) : null}
          </div>
        );
      })}
      {general.length ? (
        <ul className="field-errors" role="alert">
          {general.map((p, i) => (
            <li key={i}>
              <code>{p.path}</code> {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Starting…' : submitLabel}
      </button>
    </form>
  );
}
