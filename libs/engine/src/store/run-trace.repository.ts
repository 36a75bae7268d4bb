/** SQL of a run's trace context (see observe/run-tracing.ts). */
import type { Queryable } from './engine-database.js';

/** Stores the traceparent of the run's span on its row, in the creating transaction (before its events are appended). */
export function setRunTraceParent(client: Queryable, runId: string, traceParent: string): Promise<unknown> {
  return client.query(`UPDATE orchestration_runs SET trace_parent = $2 WHERE id = $1`, [runId, traceParent]);
}
