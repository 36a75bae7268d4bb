import type { JsonValue } from '#core';
import type { EventType } from './event-types.js';

/** One row of the event log as consumers see it (the id is a bigint, kept as a string). */
export interface EventRecord {
  id: string;
  organizationId: string;
  runId: string;
  seq: number;
  type: EventType;
  stepKey: string | null;
  payload: JsonValue;
  createdAt: string;
  /** The writing transaction (xid8 as a string), present on rows read in commit-safe order; streams merge on (txId, id). */
  txId?: string;
}

export interface EventRow {
  id: string;
  organization_id: string;
  run_id: string;
  seq: number;
  type: string;
  step_key: string | null;
  payload: unknown;
  created_at: Date;
  tx_id?: string;
}

export function toEventRecord(row: EventRow): EventRecord {
  return {
    id: String(row.id),
    organizationId: row.organization_id,
    runId: row.run_id,
    seq: row.seq,
    type: row.type as EventType,
    stepKey: row.step_key,
    payload: (row.payload ?? {}) as JsonValue,
    createdAt: row.created_at instanceof Date ? row.created_at.toISOString() : String(row.created_at),
    ...(row.tx_id === undefined ? {} : { txId: String(row.tx_id) }),
  };
}
