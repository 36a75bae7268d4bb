/**
 * Appends events inside the caller's transaction. Invariant: a run's events get consecutive `seq` numbers
 * assigned by bumping `orchestration_runs.last_seq` in the same statement, so the run row's lock orders them
 * and concurrent writers cannot interleave or skip a number.
 */
import type { JsonValue } from '#core';
import type { EventType } from '#events';
import { EVENTS_CHANNEL } from '#events';
import { notifyAfterCommit, type Queryable } from './engine-database.js';

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

export async function appendEvents(client: Queryable, events: NewEvent[]): Promise<AppendedEvent[]> {
  if (events.length === 0) return [];
  notifyAfterCommit(client, EVENTS_CHANNEL);
  const result = await client.query<AppendedEvent>(
    `WITH ev AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY
         AS e(run_id, organization_id, type, step_key, payload, ord)
     ), counts AS (
       SELECT run_id, count(*)::int AS n FROM ev GROUP BY run_id
     ), bumped AS (
       UPDATE orchestration_runs r SET last_seq = r.last_seq + counts.n
         FROM counts WHERE r.id = counts.run_id
       RETURNING r.id, r.last_seq - counts.n AS base
     )
     INSERT INTO orchestration_events (organization_id, run_id, seq, type, step_key, payload)
     SELECT ev.organization_id, ev.run_id, b.base + row_number() OVER (PARTITION BY ev.run_id ORDER BY ev.ord), ev.type, ev.step_key, ev.payload
       FROM ev JOIN bumped b ON b.id = ev.run_id
      ORDER BY ev.ord
     RETURNING id, run_id, seq, type`,
    [
      events.map((e) => e.runId),
      events.map((e) => e.organizationId),
      events.map((e) => e.type),
      events.map((e) => e.stepKey ?? null),
      events.map((e) => JSON.stringify(e.payload ?? {})),
    ],
  );
  return result.rows;
}
