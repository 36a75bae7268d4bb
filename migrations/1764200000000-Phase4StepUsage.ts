import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Phase 4 (agent runtime): what a step's completing attempt used (tokens, cost), for GET /orchestrations/runs/:id and budgets. */
export const PHASE4_STEP_USAGE_UP = [`ALTER TABLE orchestration_steps ADD COLUMN usage jsonb`];
export const PHASE4_STEP_USAGE_DOWN = [`ALTER TABLE orchestration_steps DROP COLUMN usage`];

export class Phase4StepUsage1764200000000 implements MigrationInterface {
  name = 'Phase4StepUsage1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE4_STEP_USAGE_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE4_STEP_USAGE_DOWN) await queryRunner.query(sql);
  }
}
