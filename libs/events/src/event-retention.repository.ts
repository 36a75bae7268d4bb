import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { TERMINAL_RUN_EVENTS } from './event-types.js';

/**
 * Deletes the events of runs that finished before a cutoff, except their terminal event, in bounded batches
 * (finished runs found through orchestration_runs_finished_idx, their events through (run_id, seq)). Only
 * finished runs are touched: a running run's history, which the status cache and streams replay by seq, stays whole.
 */
@Injectable()
export class EventRetentionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Deletes up to `limit` events; returns how many it deleted (fewer than `limit`: nothing left for now). */
  async pruneBatch(cutoff: Date, limit: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH doomed AS (
         SELECT e.id FROM orchestration_runs r
           JOIN orchestration_events e ON e.run_id = r.id
          WHERE r.status IN ('completed', 'failed', 'cancelled') AND r.completed_at < $1
            AND e.type <> ALL($2::text[])
          LIMIT $3),
       deleted AS (DELETE FROM orchestration_events WHERE id IN (SELECT id FROM doomed) RETURNING 1)
       SELECT count(*)::int AS n FROM deleted`,
      [cutoff, [...TERMINAL_RUN_EVENTS], limit],
    );
    return rows[0].n;
  }
}
