/**
 * Reading the whole log in commit-safe order. A reader that remembered "the highest id seen" could skip an
 * id that commits late (ids are taken before commit). Instead the cursor is (tx_id, id) and a row is only
 * returned once its transaction id is below the oldest transaction still running (the snapshot's xmin): no
 * transaction that could still commit can then add a row before the cursor.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { EventRow } from './event-record.js';

export interface TailCursor {
  txId: string;
  id: string;
}

/**
 * Committed events past a cursor, in commit-safe order ($1 tx id, $2 event id, $3 limit, $4 organization or null): the
 * event tail's and the organization streams' read; bench:history explains it.
 */
export const TAIL_READ_SQL = `SELECT e.id, e.organization_id, e.run_id, e.seq, e.type, e.step_key, e.payload, e.created_at, e.tx_id::text AS tx_id
         FROM orchestration_events e
        WHERE (e.tx_id, e.id) > ($1::xid8, $2::bigint)
          AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
          AND ($4::uuid IS NULL OR e.organization_id = $4::uuid)
        ORDER BY e.tx_id, e.id
        LIMIT $3`;

/**
 * Whether a committed event lies past the horizon (after the cursor $1, $2; $3 organization or null). Written as the
 * first such row in index order rather than EXISTS: PostgreSQL drops ORDER BY and LIMIT inside EXISTS, and with the
 * statistics of a fast-growing log it then chose a sequential scan expecting an early match that only comes at the
 * table's end (10-15 ms and ~1,000 buffers per call at 100,000 events, a third of the database's time in bench:runs),
 * where the (tx_id, id) index answers in a few buffers.
 */
export const WITHHELD_SQL = `SELECT (SELECT e.id FROM orchestration_events e
                    WHERE e.tx_id >= pg_snapshot_xmin(pg_current_snapshot()) AND (e.tx_id, e.id) > ($1::xid8, $2::bigint)
                      AND ($3::uuid IS NULL OR e.organization_id = $3::uuid)
                    ORDER BY e.tx_id, e.id LIMIT 1) IS NOT NULL AS withheld`;

@Injectable()
export class EventTailRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** A cursor at "now": everything committed by a transaction older than every running one is behind it. */
  async currentCursor(): Promise<TailCursor> {
    const [row]: { xmin: string }[] = await this.dataSource.query(`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`);
    return { txId: row.xmin, id: '0' };
  }

  /** The cursor just before a known event id (to resume an organization stream from it). */
  async cursorOf(eventId: string): Promise<TailCursor | null> {
    const rows: { tx_id: string }[] = await this.dataSource.query(`SELECT tx_id::text FROM orchestration_events WHERE id = $1::bigint`, [eventId]);
    return rows[0] ? { txId: rows[0].tx_id, id: eventId } : null;
  }

  async read(cursor: TailCursor, limit: number, organizationId?: string): Promise<{ rows: (EventRow & { tx_id: string })[]; withheld: boolean }> {
    const rows: (EventRow & { tx_id: string })[] = await this.dataSource.query(TAIL_READ_SQL, [cursor.txId, cursor.id, limit, organizationId ?? null]);
    if (rows.length >= limit) return { rows, withheld: false };
    // Rows past the horizon exist when a transaction that wrote them is still finishing: look again soon.
    const [pending]: { withheld: boolean }[] = await this.dataSource.query(WITHHELD_SQL,
      [rows.length > 0 ? rows[rows.length - 1].tx_id : cursor.txId, rows.length > 0 ? rows[rows.length - 1].id : cursor.id, organizationId ?? null],
    );
    return { rows, withheld: pending.withheld };
  }
}
