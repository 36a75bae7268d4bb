import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Step output caching (a step's `cache: { key, ttlMs }`): `step_cache` keeps the last output a real call of an agent
 * produced for a rendered key, per organization and agent, until `expires_at` (written + the step's ttlMs). The key is
 * stored as its SHA-256 (keys are rendered templates of any length) beside a prefix of its text for people.
 *
 * And a NOTIFY on `baton_definitions` (payload `<organization id>:<slug>`) from every change to a definition's rows,
 * whoever writes them (API, CLI, seeds, SQL): every instance drops what it cached of that slug's versions. Definition
 * writes are rare, so notifying inside their transactions costs nothing that matters (engine transactions never do).
 */
const NOTIFY_FUNCTION = `CREATE FUNCTION baton_notify_definition_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      PERFORM pg_notify('baton_definitions', OLD.organization_id::text || ':' || OLD.slug);
    ELSE
      PERFORM pg_notify('baton_definitions', NEW.organization_id::text || ':' || NEW.slug);
    END IF;
    RETURN NULL;
  END $$`;

export const STEP_CACHE_UP = [
  `CREATE TABLE step_cache (
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    agent_slug varchar(100) NOT NULL,
    key_hash varchar(64) NOT NULL,
    key_text varchar(200) NOT NULL,
    output jsonb,
    run_id uuid REFERENCES orchestration_runs(id) ON DELETE SET NULL,
    step_key varchar(100),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, agent_slug, key_hash)
  )`,
  `CREATE INDEX step_cache_expiry_idx ON step_cache (expires_at)`,
  NOTIFY_FUNCTION,
  `CREATE TRIGGER orchestration_definitions_notify AFTER INSERT OR UPDATE OR DELETE ON orchestration_definitions
     FOR EACH ROW EXECUTE FUNCTION baton_notify_definition_change()`,
];

export const STEP_CACHE_DOWN = [
  `DROP TRIGGER orchestration_definitions_notify ON orchestration_definitions`,
  `DROP FUNCTION baton_notify_definition_change()`,
  `DROP TABLE step_cache`,
];

export class StepCache1764410000000 implements MigrationInterface {
  name = 'StepCache1764410000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of STEP_CACHE_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of STEP_CACHE_DOWN) await queryRunner.query(sql);
  }
}
