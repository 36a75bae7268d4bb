/**
 * Reads behind the SSE streams. A run's events are read by `seq`, which is gap-free and assigned under the run's
 * lock, so "seq > n" read at any moment returns a contiguous prefix of what will ever be there: a reader that
 * remembers the last seq it sent can neither skip nor repeat an event.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { EventRow } from '../event-record.js';
import type { TailCursor } from '../event-tail.repository.js';

export interface RunPosition {
  seq: number;
  type: string | null;
}

export interface StreamedRun {
  id: string;
  status: string;
  lastSeq: number;
  lastType: string | null;
}

/** A run's events after a seq, in order ($1 run, $2 seq, $3 limit): the run streams' read; bench:history explains it. */
export const RUN_EVENTS_AFTER_SQL = `SELECT id::text AS id, organization_id, run_id, seq, type, step_key, payload, created_at
         FROM orchestration_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`;

@Injectable()
export class EventStreamRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The run (in this organization) with its last committed event, or null. */
  async findRun(organizationId: string, runId: string): Promise<StreamedRun | null> {
    const rows: { id: string; status: string; last_seq: number | null; last_type: string | null }[] = await this.dataSource.query(
      `SELECT r.id, r.status, e.seq AS last_seq, e.type AS last_type
         FROM orchestration_runs r
         LEFT JOIN LATERAL (SELECT seq, type FROM orchestration_events WHERE run_id = r.id ORDER BY seq DESC LIMIT 1) e ON true
        WHERE r.id = $1 AND r.organization_id = $2 AND r.deleted_at IS NULL`,
      [runId, organizationId],
    );
    const row = rows[0];
    return row ? { id: row.id, status: row.status, lastSeq: row.last_seq ?? 0, lastType: row.last_type } : null;
  }

  /** Where event `eventId` sits in run `runId`, or null when it is not an event of that run. */
  async positionOf(runId: string, eventId: string): Promise<RunPosition | null> {
    const rows: { seq: number; type: string }[] = await this.dataSource.query(
      `SELECT seq, type FROM orchestration_events WHERE id = $1::bigint AND run_id = $2`,
      [eventId, runId],
    );
    return rows[0] ? { seq: rows[0].seq, type: rows[0].type } : null;
  }

  async runEventsAfter(runId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
    return this.dataSource.query(RUN_EVENTS_AFTER_SQL, [runId, afterSeq, limit]);
  }

  /** The commit-safe cursor of an event of this organization (the organization stream resumes after it), or null. */
  async cursorOf(organizationId: string, eventId: string): Promise<TailCursor | null> {
    const rows: { tx_id: string }[] = await this.dataSource.query(
      `SELECT tx_id::text AS tx_id FROM orchestration_events WHERE id = $1::bigint AND organization_id = $2`,
      [eventId, organizationId],
    );
    return rows[0] ? { txId: rows[0].tx_id, id: eventId } : null;
  }
}
