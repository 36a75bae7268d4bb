import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A2A server (orchestrations served as A2A agents): a run started over A2A is a task whose contextId the client
 * gave or the server generated (`a2a_tasks`, one row per run, absent for runs started over REST: their contextId
 * is the run id), and the messages clients sent to it (`a2a_task_messages`: the task history of GetTask).
 */
export const A2A_TASKS_UP = [
  `CREATE TABLE a2a_tasks (
     run_id uuid PRIMARY KEY REFERENCES orchestration_runs (id) ON DELETE CASCADE,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     context_id varchar(200) NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX a2a_tasks_context_idx ON a2a_tasks (organization_id, context_id)`,
  `CREATE TABLE a2a_task_messages (
     id bigserial PRIMARY KEY,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     run_id uuid NOT NULL REFERENCES orchestration_runs (id) ON DELETE CASCADE,
     message jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX a2a_task_messages_run_idx ON a2a_task_messages (run_id, id)`,
];

export const A2A_TASKS_DOWN = [`DROP TABLE a2a_task_messages`, `DROP TABLE a2a_tasks`];

export class A2aTasks1764230000000 implements MigrationInterface {
  name = 'A2aTasks1764230000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of A2A_TASKS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of A2A_TASKS_DOWN) await queryRunner.query(sql);
  }
}
