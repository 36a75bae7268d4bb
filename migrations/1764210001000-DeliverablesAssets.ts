import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What function agents produce (DESIGN.md section 3): `assets` are files (their bytes live in a storage directory
 * under BATON_DATA_DIR, addressed by `storage_key`; the row holds what the API needs to serve them), `deliverables`
 * are the named results of a step (text and/or JSON, optionally pointing at assets). Both belong to the run and step
 * attempt that made them, so a retried step's earlier outputs stay recognisable, and go with their run.
 */
export const DELIVERABLES_ASSETS_UP = [
  `CREATE TABLE assets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id uuid REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    step_key varchar(100),
    attempt integer,
    agent_slug varchar(100) NOT NULL,
    filename varchar(255) NOT NULL,
    media_type varchar(255) NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    sha256 char(64) NOT NULL,
    storage_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX assets_run_idx ON assets (organization_id, run_id, created_at)`,
  `CREATE TABLE deliverables (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id uuid REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    step_key varchar(100),
    attempt integer,
    agent_slug varchar(100) NOT NULL,
    kind varchar(50) NOT NULL DEFAULT 'document',
    title varchar(300) NOT NULL,
    content text,
    data jsonb,
    asset_ids uuid[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX deliverables_run_idx ON deliverables (organization_id, run_id, created_at)`,
];

export const DELIVERABLES_ASSETS_DOWN = [`DROP TABLE deliverables`, `DROP TABLE assets`];

export class DeliverablesAssets1764210001000 implements MigrationInterface {
  name = 'DeliverablesAssets1764210001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of DELIVERABLES_ASSETS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of DELIVERABLES_ASSETS_DOWN) await queryRunner.query(sql);
  }
}
