/**
 * Appends events inside the caller's transaction. Invariant: a run's events get consecutive `seq` numbers
 * assigned by bumping `orchestration_runs.last_seq` in the same statement, so the run row's lock orders them
 * and concurrent writers cannot interleave or skip a number.
 *
 * The same statement reads what observers of committed events need (the run's definition slug, the step row's
 * agent, attempt and timing, by the (run_id, step_key) unique index), and hands the events to them once the
 * transaction commits (see EngineDatabase.onCommitted): metrics, logs and spans cost no extra round trip.
 */
import type { JsonValue } from '#core';
import type { EventType } from '#events';
import { EVENTS_CHANNEL } from '#events';
import type { CommittedEvent } from './committed-event.js';
import { notifyAfterCommit, observeAfterCommit, type Queryable } from './engine-database.js';

export interface NewEvent {
  runId: string;
  organizationId: string;
  type: EventType;
  stepKey?: string | null;
  payload?: JsonValue;
}

export interface AppendedEvent {
  id: string;
  run_id: string;
  seq: number;
  type: EventType;
}

interface AppendedRow extends AppendedEvent {
  definition_slug: string | null;
  trace_parent: string | null;
  agent_slug: string | null;
  step_attempt: number | null;
  since_started_ms: number | null;
  due_to_start_ms: number | null;
  started_after_due: boolean | null;
}

export async function appendEvents(client: Queryable, events: NewEvent[]): Promise<AppendedEvent[]> {
  if (events.length === 0) return [];
  notifyAfterCommit(client, EVENTS_CHANNEL);
  const result = await client.query<AppendedRow>(
    `WITH ev AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY
         AS e(run_id, organization_id, type, step_key, payload, ord)
     ), counts AS (
       SELECT run_id, count(*)::int AS n FROM ev GROUP BY run_id
     ), bumped AS (
       UPDATE orchestration_runs r SET last_seq = r.last_seq + counts.n
         FROM counts WHERE r.id = counts.run_id
       RETURNING r.id, r.last_seq - counts.n AS base, r.definition_slug, r.trace_parent
     ), inserted AS (
       INSERT INTO orchestration_events (organization_id, run_id, seq, type, step_key, payload)
       SELECT ev.organization_id, ev.run_id, b.base + row_number() OVER (PARTITION BY ev.run_id ORDER BY ev.ord), ev.type, ev.step_key, ev.payload
         FROM ev JOIN bumped b ON b.id = ev.run_id
        ORDER BY ev.ord
       RETURNING id, run_id, seq, type, step_key, created_at
     )
     SELECT i.id, i.run_id, i.seq, i.type, b.definition_slug, b.trace_parent, s.agent_slug, s.attempt AS step_attempt,
            (extract(epoch FROM i.created_at - s.started_at) * 1000)::float8 AS since_started_ms,
            (extract(epoch FROM s.started_at - coalesce(s.next_attempt_at, s.created_at)) * 1000)::float8 AS due_to_start_ms,
            (s.started_at IS NOT NULL AND s.started_at >= coalesce(s.next_attempt_at, s.created_at)) AS started_after_due
       FROM inserted i JOIN bumped b ON b.id = i.run_id
       LEFT JOIN orchestration_steps s ON s.run_id = i.run_id AND s.step_key = i.step_key
      ORDER BY i.id`,
    [
      events.map((e) => e.runId),
      events.map((e) => e.organizationId),
      events.map((e) => e.type),
      events.map((e) => e.stepKey ?? null),
      events.map((e) => JSON.stringify(e.payload ?? {})),
    ],
  );
  observeAfterCommit(client, committedEvents(events, result.rows));
  return result.rows.map((r) => ({ id: r.id, run_id: r.run_id, seq: r.seq, type: r.type }));
}

/**
 * Pairs the appended rows with the events they store: a run's events got consecutive seq numbers in input order,
 * so the k-th event of a run (in input order) is the row with that run's k-th smallest seq.
 */
function committedEvents(events: NewEvent[], rows: AppendedRow[]): CommittedEvent[] {
  const byRun = new Map<string, AppendedRow[]>();
  for (const row of rows) {
    const list = byRun.get(row.run_id) ?? [];
    list.push(row);
    byRun.set(row.run_id, list);
  }
  for (const list of byRun.values()) list.sort((a, b) => a.seq - b.seq);
  const taken = new Map<string, number>();
  const out: CommittedEvent[] = [];
  for (const event of events) {
    const k = taken.get(event.runId) ?? 0;
    taken.set(event.runId, k + 1);
    const row = byRun.get(event.runId)?.[k];
    if (!row) continue; // a run that does not exist: nothing was appended for it
    out.push({
      id: String(row.id),
      runId: event.runId,
      organizationId: event.organizationId,
      seq: Number(row.seq),
      type: event.type,
      stepKey: event.stepKey ?? null,
      payload: event.payload ?? {},
      definition: row.definition_slug,
      traceParent: row.trace_parent,
      agent: row.agent_slug,
      stepAttempt: row.step_attempt,
      sinceStartedMs: row.since_started_ms,
      dueToStartMs: row.due_to_start_ms,
      startedAfterDue: row.started_after_due,
    });
  }
  return out;
}
