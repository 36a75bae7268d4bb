import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Event retention (BATON_EVENT_RETENTION_DAYS): the cleanup job finds finished runs older than the cutoff through
 * this partial index instead of scanning every run; it then deletes their events through (run_id, seq).
 */
export const EVENT_RETENTION_INDEX_UP = [
  `CREATE INDEX orchestration_runs_finished_idx ON orchestration_runs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled')`,
];
export const EVENT_RETENTION_INDEX_DOWN = [`DROP INDEX orchestration_runs_finished_idx`];

export class EventRetentionIndex1764250001000 implements MigrationInterface {
  name = 'EventRetentionIndex1764250001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of EVENT_RETENTION_INDEX_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of EVENT_RETENTION_INDEX_DOWN) await queryRunner.query(sql);
  }
}
