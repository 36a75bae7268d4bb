import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phase 2: what the durable engine needs beyond phase 1.
 * - runs.steps_remaining: counted down in the same transaction that finishes a step, so run completion needs no scan;
 * - runs.max_concurrency: the definition's `concurrency`, enforced under the run's row lock;
 * - steps.lease_losses: lease expiries (crashed workers) are not failed attempts, but a poison step must stop somewhere;
 * - steps.manual_input: an operator's edited input for a manual retry, used instead of the rendered template;
 * - events.tx_id: the writing transaction, so organization-wide readers never pass an event that may still commit;
 * - rate_limits: counters of rate-limiter-flexible (run creation per organization), shared by every API instance.
 */
export const PHASE2_UP = [
  `ALTER TABLE orchestration_runs ADD COLUMN max_concurrency integer CHECK (max_concurrency IS NULL OR max_concurrency >= 1)`,
  `ALTER TABLE orchestration_runs ADD COLUMN steps_remaining integer NOT NULL DEFAULT 0`,
  `ALTER TABLE orchestration_steps ADD COLUMN lease_losses integer NOT NULL DEFAULT 0`,
  `ALTER TABLE orchestration_steps ADD COLUMN manual_input jsonb`,
  `CREATE INDEX orchestration_steps_running_agent_idx ON orchestration_steps (organization_id, agent_slug) WHERE status = 'running'`,
  `ALTER TABLE orchestration_events ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()`,
  `CREATE INDEX orchestration_events_tx_idx ON orchestration_events (tx_id, id)`,
  `CREATE TABLE rate_limits (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
];

export const PHASE2_DOWN = [
  `DROP TABLE rate_limits`,
  `DROP INDEX orchestration_events_tx_idx`,
  `ALTER TABLE orchestration_events DROP COLUMN tx_id`,
  `DROP INDEX orchestration_steps_running_agent_idx`,
  `ALTER TABLE orchestration_steps DROP COLUMN manual_input`,
  `ALTER TABLE orchestration_steps DROP COLUMN lease_losses`,
  `ALTER TABLE orchestration_runs DROP COLUMN steps_remaining`,
  `ALTER TABLE orchestration_runs DROP COLUMN max_concurrency`,
];

export class Phase2Engine1763900000000 implements MigrationInterface {
  name = 'Phase2Engine1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE2_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE2_DOWN) await queryRunner.query(sql);
  }
}
