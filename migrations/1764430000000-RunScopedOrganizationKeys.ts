import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events and steps reference their run and its organization with one key, (run_id, organization_id) ->
 * orchestration_runs (id, organization_id), instead of two (run_id -> runs, organization_id -> organizations):
 * - one foreign-key check per row written instead of two; the organization's single row was checked (FOR KEY SHARE)
 *   by every event and step row of every transaction of the organization, about a tenth of the database's statement
 *   time per step (docs/benchmarks.md, 2026-12-04);
 * - and a stronger rule: a row can no longer name an organization other than its run's (before, any organization
 *   would do). Deleting an organization still removes them, through its runs (ON DELETE CASCADE both ways).
 * The new keys are added NOT VALID, then validated: validation scans the table without blocking its writers.
 */
export const RUN_SCOPED_ORGANIZATION_KEYS_UP = [
  `ALTER TABLE orchestration_runs ADD CONSTRAINT orchestration_runs_id_organization_uq UNIQUE (id, organization_id)`,
  ...['orchestration_events', 'orchestration_steps'].flatMap((table) => [
    `ALTER TABLE ${table} ADD CONSTRAINT ${table}_run_organization_fkey FOREIGN KEY (run_id, organization_id)
       REFERENCES orchestration_runs (id, organization_id) ON DELETE CASCADE NOT VALID`,
    `ALTER TABLE ${table} VALIDATE CONSTRAINT ${table}_run_organization_fkey`,
    `ALTER TABLE ${table} DROP CONSTRAINT ${table}_run_id_fkey, DROP CONSTRAINT ${table}_organization_id_fkey`,
  ]),
];

export const RUN_SCOPED_ORGANIZATION_KEYS_DOWN = [
  ...['orchestration_steps', 'orchestration_events'].flatMap((table) => [
    `ALTER TABLE ${table} ADD CONSTRAINT ${table}_run_id_fkey FOREIGN KEY (run_id) REFERENCES orchestration_runs (id) ON DELETE CASCADE,
       ADD CONSTRAINT ${table}_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE`,
    `ALTER TABLE ${table} DROP CONSTRAINT ${table}_run_organization_fkey`,
  ]),
  `ALTER TABLE orchestration_runs DROP CONSTRAINT orchestration_runs_id_organization_uq`,
];

export class RunScopedOrganizationKeys1764430000000 implements MigrationInterface {
  name = 'RunScopedOrganizationKeys1764430000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_SCOPED_ORGANIZATION_KEYS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of RUN_SCOPED_ORGANIZATION_KEYS_DOWN) await queryRunner.query(sql);
  }
}
