import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Agent registry: the circuit breaker's state on the agent row (every instance reads it from there, so
 * `GET /agents/:slug` shows the same state whichever instance answers), and an index that makes an agent's
 * recent finished steps (error rate, latency, recent steps on `GET /agents/:slug`) one index range scan.
 */
export const AGENTS_REGISTRY_UP = [
  `ALTER TABLE agents
     ADD COLUMN breaker_state varchar(20) NOT NULL DEFAULT 'closed' CHECK (breaker_state IN ('closed', 'open', 'half_open')),
     ADD COLUMN breaker_changed_at timestamptz`,
  `CREATE INDEX orchestration_steps_agent_recent_idx ON orchestration_steps (organization_id, agent_slug, completed_at DESC)
     WHERE completed_at IS NOT NULL`,
];

export const AGENTS_REGISTRY_DOWN = [
  `DROP INDEX orchestration_steps_agent_recent_idx`,
  `ALTER TABLE agents DROP COLUMN breaker_changed_at, DROP COLUMN breaker_state`,
];

export class AgentsRegistry1764220000000 implements MigrationInterface {
  name = 'AgentsRegistry1764220000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of AGENTS_REGISTRY_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of AGENTS_REGISTRY_DOWN) await queryRunner.query(sql);
  }
}
