import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Group steps (issue 16, docs/group-steps.md): several agents speaking in turns inside one step.
 * - Steps of type `group`.
 * - `group_turns`: each finished turn of a group step, written by the transaction that applies it (fenced on the
 *   step's lease owner and attempt, with its `group.turn` event). The primary key (step, turn) makes a turn
 *   recorded twice impossible; a group resumed after a crash reads these rows and continues at the next turn.
 */
export const GROUP_STEPS_UP = [
  `ALTER TABLE orchestration_steps DROP CONSTRAINT orchestration_steps_type_check`,
  `ALTER TABLE orchestration_steps ADD CONSTRAINT orchestration_steps_type_check CHECK (type IN ('agent', 'orchestration', 'approval', 'rollback', 'group'))`,
  `CREATE TABLE group_turns (
     step_id uuid NOT NULL REFERENCES orchestration_steps (id) ON DELETE CASCADE,
     turn integer NOT NULL CHECK (turn > 0),
     run_id uuid NOT NULL REFERENCES orchestration_runs (id) ON DELETE CASCADE,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     attempt integer NOT NULL,
     speaker varchar(100) NOT NULL,
     agent_slug varchar(100) NOT NULL,
     text text NOT NULL,
     output jsonb,
     selected_by varchar(20) NOT NULL CHECK (selected_by IN ('round-robin', 'priority', 'llm', 'fallback')),
     usage jsonb,
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (step_id, turn)
   )`,
  `CREATE INDEX group_turns_run_idx ON group_turns (run_id)`,
];
export const GROUP_STEPS_DOWN = [
  `DROP TABLE group_turns`,
  `DELETE FROM orchestration_steps WHERE type = 'group'`,
  `ALTER TABLE orchestration_steps DROP CONSTRAINT orchestration_steps_type_check`,
  `ALTER TABLE orchestration_steps ADD CONSTRAINT orchestration_steps_type_check CHECK (type IN ('agent', 'orchestration', 'approval', 'rollback'))`,
];

export class GroupSteps1764400000000 implements MigrationInterface {
  name = 'GroupSteps1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of GROUP_STEPS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of GROUP_STEPS_DOWN) await queryRunner.query(sql);
  }
}
