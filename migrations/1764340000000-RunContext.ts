import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The conversation (A2A contextId) a run belongs to, written by the transaction that creates the run (children inherit
 * their parent's), so a step's `{{ context.history }}` finds the conversation even when the step starts in that same
 * transaction, before the run's own message joins the history.
 */
export const RUN_CONTEXT_UP = [`ALTER TABLE orchestration_runs ADD COLUMN context_id varchar(200)`];
export const RUN_CONTEXT_DOWN = [`ALTER TABLE orchestration_runs DROP COLUMN context_id`];

export class RunContext1764340000000 implements MigrationInterface {
  name = 'RunContext1764340000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_CONTEXT_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_CONTEXT_DOWN) await queryRunner.query(sql);
  }
}
