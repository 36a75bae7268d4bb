import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Budgets (issue 8): what a run may spend on LLM tokens and cost (`budget`: maxTokens, maxCostUsd, onExceeded, and
 * per-agent overrides a decision raised), and what it has spent so far, added up in the transactions that record
 * each completed step's usage.
 */
export const RUN_BUDGETS_UP = [
  `ALTER TABLE orchestration_runs
     ADD COLUMN budget jsonb,
     ADD COLUMN usage_input_tokens bigint NOT NULL DEFAULT 0,
     ADD COLUMN usage_output_tokens bigint NOT NULL DEFAULT 0,
     ADD COLUMN usage_cost_usd numeric(18, 8) NOT NULL DEFAULT 0`,
];
export const RUN_BUDGETS_DOWN = [
  `ALTER TABLE orchestration_runs DROP COLUMN budget, DROP COLUMN usage_input_tokens, DROP COLUMN usage_output_tokens, DROP COLUMN usage_cost_usd`,
];

export class RunBudgets1764300001000 implements MigrationInterface {
  name = 'RunBudgets1764300001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_BUDGETS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_BUDGETS_DOWN) await queryRunner.query(sql);
  }
}
