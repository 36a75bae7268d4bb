import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The W3C traceparent of a run's span (null while tracing is off): every instance that later works on the run puts
 * its step and transition spans in that trace, so a run's trace survives restarts and crosses processes, and a run
 * started by a traced request continues the request's trace.
 */
export const RUN_TRACE_CONTEXT_UP = [`ALTER TABLE orchestration_runs ADD COLUMN trace_parent varchar(55)`];
export const RUN_TRACE_CONTEXT_DOWN = [`ALTER TABLE orchestration_runs DROP COLUMN trace_parent`];

export class RunTraceContext1764310000000 implements MigrationInterface {
  name = 'RunTraceContext1764310000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_TRACE_CONTEXT_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_TRACE_CONTEXT_DOWN) await queryRunner.query(sql);
  }
}
