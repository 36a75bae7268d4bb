/** Reads of the event log: a run's history by seq, and the organization-wide tail by (tx_id, id). */
import type { EventRow } from '#events';
import type { Queryable } from './engine-database.js';

/** A page of a run's history after an event id ($1 organization, $2 run, $3 event id or null, $4 limit); bench:history explains it. */
export const RUN_EVENTS_SQL = `SELECT id, organization_id, run_id, seq, type, step_key, payload, created_at FROM orchestration_events
      WHERE organization_id = $1 AND run_id = $2
        AND seq > coalesce((SELECT seq FROM orchestration_events WHERE id = $3::bigint AND run_id = $2), 0)
      ORDER BY seq LIMIT $4`;

export async function runEvents(client: Queryable, organizationId: string, runId: string, afterId: string | null, limit: number): Promise<EventRow[]> {
  const { rows } = await client.query<EventRow>(RUN_EVENTS_SQL, [organizationId, runId, afterId, limit]);
  return rows;
}
