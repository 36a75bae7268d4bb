import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Observability: partial indexes that keep the scrape-time gauges of GET /metrics (apps/api/src/metrics) to index
 * scans over the small "open" part of each table, across organizations. The existing indexes lead with
 * organization_id (tenant lookups), which a global count cannot use without scanning the table. Each index covers
 * only rows in an open state, so it stays small and costs finished rows nothing.
 */
export const OBSERVABILITY_INDEXES_UP = [
  `CREATE INDEX orchestration_runs_in_flight_idx ON orchestration_runs (status)
    WHERE status IN ('pending', 'running', 'awaiting_approval') AND deleted_at IS NULL`,
  `CREATE INDEX human_approvals_pending_requested_idx ON human_approvals (requested_at) WHERE status = 'pending'`,
  `CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (dead_at) WHERE status = 'dead'`,
];

export const OBSERVABILITY_INDEXES_DOWN = [
  `DROP INDEX webhook_deliveries_dead_idx`,
  `DROP INDEX human_approvals_pending_requested_idx`,
  `DROP INDEX orchestration_runs_in_flight_idx`,
];

export class ObservabilityIndexes1764250000000 implements MigrationInterface {
  name = 'ObservabilityIndexes1764250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of OBSERVABILITY_INDEXES_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of OBSERVABILITY_INDEXES_DOWN) await queryRunner.query(sql);
  }
}
