import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sub-orchestrations and compensation (DESIGN.md sections 5-6).
 * - Runs: `depth` (a root is 0; every run lock is taken top-down, by depth then id), the attempt of the parent step
 *   that created a child (`parent_attempt`: a child of an older attempt is ignored when it ends) and its forEach
 *   item (`item_index`); `compensate` (the definition's flag, copied at creation); `compensation` (null, running, completed, failed) and the end the run reaches once its
 *   compensation is over (`compensation_status`, `compensation_error`).
 * - Steps: the children plan of a waiting orchestration step (`spawn`: definition, concurrency, failFast) and its
 *   counters, updated under the parent run's lock; `compensates`: the step a rollback step undoes.
 */
export const SUB_ORCHESTRATIONS_UP = [
  `ALTER TABLE orchestration_runs
     ADD COLUMN depth integer NOT NULL DEFAULT 0 CHECK (depth >= 0),
     ADD COLUMN parent_attempt integer,
     ADD COLUMN item_index integer,
     ADD COLUMN compensate boolean NOT NULL DEFAULT false,
     ADD COLUMN compensation varchar(20) CHECK (compensation IN ('running', 'completed', 'failed')),
     ADD COLUMN compensation_status varchar(24) CHECK (compensation_status IN ('failed', 'cancelled')),
     ADD COLUMN compensation_error jsonb`,
  `CREATE INDEX orchestration_runs_parent_step_idx ON orchestration_runs (parent_step_id, parent_attempt, item_index) WHERE parent_step_id IS NOT NULL`,
  `ALTER TABLE orchestration_steps
     ADD COLUMN spawn jsonb,
     ADD COLUMN children_total integer NOT NULL DEFAULT 0,
     ADD COLUMN children_started integer NOT NULL DEFAULT 0,
     ADD COLUMN children_finished integer NOT NULL DEFAULT 0,
     ADD COLUMN compensates varchar(100)`,
  `ALTER TABLE orchestration_steps DROP CONSTRAINT orchestration_steps_type_check`,
  `ALTER TABLE orchestration_steps ADD CONSTRAINT orchestration_steps_type_check CHECK (type IN ('agent', 'orchestration', 'approval', 'rollback'))`,
];
export const SUB_ORCHESTRATIONS_DOWN = [
  `DELETE FROM orchestration_steps WHERE type = 'rollback'`,
  `ALTER TABLE orchestration_steps DROP CONSTRAINT orchestration_steps_type_check`,
  `ALTER TABLE orchestration_steps ADD CONSTRAINT orchestration_steps_type_check CHECK (type IN ('agent', 'orchestration', 'approval'))`,
  `ALTER TABLE orchestration_steps DROP COLUMN spawn, DROP COLUMN children_total, DROP COLUMN children_started, DROP COLUMN children_finished, DROP COLUMN compensates`,
  `DROP INDEX orchestration_runs_parent_step_idx`,
  `ALTER TABLE orchestration_runs DROP COLUMN depth, DROP COLUMN parent_attempt, DROP COLUMN item_index, DROP COLUMN compensate, DROP COLUMN compensation, DROP COLUMN compensation_status, DROP COLUMN compensation_error`,
];

export class SubOrchestrations1764300000000 implements MigrationInterface {
  name = 'SubOrchestrations1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of SUB_ORCHESTRATIONS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of SUB_ORCHESTRATIONS_DOWN) await queryRunner.query(sql);
  }
}
