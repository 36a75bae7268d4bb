import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * /ready names the agents whose circuit breaker is open (openBreakers, agent-breaker.repository.ts): read through this
 * partial index, it costs the open breakers, not a scan of every organization's agents (test/engine-plans.e2e-spec.ts).
 */
export const OPEN_BREAKERS_INDEX_UP = [`CREATE INDEX agents_open_breakers_idx ON agents (breaker_changed_at) WHERE breaker_state = 'open'`];
export const OPEN_BREAKERS_INDEX_DOWN = [`DROP INDEX agents_open_breakers_idx`];

export class OpenBreakersIndex1764420000000 implements MigrationInterface {
  name = 'OpenBreakersIndex1764420000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of OPEN_BREAKERS_INDEX_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of OPEN_BREAKERS_INDEX_DOWN) await queryRunner.query(sql);
  }
}
