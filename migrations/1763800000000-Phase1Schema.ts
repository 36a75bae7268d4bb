import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phase 1: tenancy, identity, agents, definitions, runs, steps, approvals, the event log and the audit log.
 * Statements are kept in arrays so `npm run supabase:sync` can emit the same SQL for Supabase.
 */
const ROLE_CHECK = `CHECK (role IN ('admin', 'operator', 'approver', 'viewer'))`;

export const PHASE1_UP = [
  `CREATE TABLE organizations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug varchar(100) NOT NULL,
    name varchar(200) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_slug_uq UNIQUE (slug)
  )`,
  `CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email varchar(320) NOT NULL,
    display_name varchar(200),
    password_hash text NOT NULL,
    role varchar(20) NOT NULL ${ROLE_CHECK},
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE UNIQUE INDEX users_email_uq ON users (lower(email))`,
  `CREATE INDEX users_organization_idx ON users (organization_id)`,
  `CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id uuid REFERENCES users(id) ON DELETE CASCADE,
    name varchar(200) NOT NULL,
    prefix varchar(32) NOT NULL,
    key_hash varchar(128) NOT NULL,
    role varchar(20) NOT NULL ${ROLE_CHECK},
    last_used_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_prefix_uq UNIQUE (prefix)
  )`,
  `CREATE INDEX api_keys_organization_idx ON api_keys (organization_id)`,
  `CREATE TABLE agents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug varchar(100) NOT NULL,
    name varchar(200) NOT NULL,
    description text,
    type varchar(20) NOT NULL CHECK (type IN ('context', 'api', 'tool', 'function', 'orchestrator', 'a2a')),
    capabilities text[] NOT NULL DEFAULT '{}',
    config jsonb NOT NULL DEFAULT '{}',
    function_code text,
    status varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    last_heartbeat_at timestamptz,
    health varchar(20) NOT NULL DEFAULT 'unknown' CHECK (health IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_organization_slug_uq UNIQUE (organization_id, slug)
  )`,
  `CREATE INDEX agents_capabilities_idx ON agents USING gin (capabilities)`,
  `CREATE TABLE orchestration_definitions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    slug varchar(100) NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    name varchar(200) NOT NULL,
    description text,
    spec jsonb NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('draft', 'active', 'archived')),
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orchestration_definitions_org_slug_version_uq UNIQUE (organization_id, slug, version)
  )`,
  `CREATE INDEX orchestration_definitions_org_status_idx ON orchestration_definitions (organization_id, status, slug)`,
  `CREATE TABLE orchestration_runs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    definition_id uuid NOT NULL REFERENCES orchestration_definitions(id) ON DELETE RESTRICT,
    definition_slug varchar(100) NOT NULL,
    definition_version integer NOT NULL,
    parent_run_id uuid REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    parent_step_id uuid,
    status varchar(24) NOT NULL DEFAULT 'pending'
      CHECK (status IN ('pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled')),
    input jsonb NOT NULL DEFAULT '{}',
    output jsonb,
    error jsonb,
    priority integer NOT NULL DEFAULT 0,
    idempotency_key varchar(200),
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    last_seq integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    deleted_at timestamptz
  )`,
  `CREATE UNIQUE INDEX orchestration_runs_org_idempotency_uq ON orchestration_runs (organization_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL`,
  `CREATE INDEX orchestration_runs_org_created_idx ON orchestration_runs (organization_id, created_at DESC)
    WHERE deleted_at IS NULL`,
  `CREATE INDEX orchestration_runs_org_status_idx ON orchestration_runs (organization_id, status) WHERE deleted_at IS NULL`,
  `CREATE INDEX orchestration_runs_parent_idx ON orchestration_runs (parent_run_id) WHERE parent_run_id IS NOT NULL`,
  `CREATE INDEX orchestration_runs_definition_idx ON orchestration_runs (definition_id)`,
  `CREATE TABLE orchestration_steps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id uuid NOT NULL REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    step_key varchar(100) NOT NULL,
    position integer NOT NULL,
    type varchar(20) NOT NULL DEFAULT 'agent' CHECK (type IN ('agent', 'orchestration', 'approval')),
    agent_slug varchar(100),
    status varchar(24) NOT NULL DEFAULT 'pending'
      CHECK (status IN ('pending', 'ready', 'running', 'awaiting_approval', 'waiting', 'completed', 'failed', 'skipped', 'cancelled')),
    depends_on text[] NOT NULL DEFAULT '{}',
    pending_dependencies integer NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    next_attempt_at timestamptz,
    priority integer NOT NULL DEFAULT 0,
    timeout_ms integer,
    input jsonb,
    output jsonb,
    error jsonb,
    lease_owner varchar(200),
    lease_expires_at timestamptz,
    reversible boolean NOT NULL DEFAULT false,
    rollback jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    CONSTRAINT orchestration_steps_run_key_uq UNIQUE (run_id, step_key)
  )`,
  `CREATE INDEX orchestration_steps_ready_idx ON orchestration_steps (priority DESC, next_attempt_at) WHERE status = 'ready'`,
  `CREATE INDEX orchestration_steps_lease_idx ON orchestration_steps (lease_expires_at) WHERE status = 'running'`,
  `ALTER TABLE orchestration_runs ADD CONSTRAINT orchestration_runs_parent_step_fk
    FOREIGN KEY (parent_step_id) REFERENCES orchestration_steps(id) ON DELETE SET NULL`,
  `CREATE TABLE human_approvals (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id uuid NOT NULL REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    step_id uuid NOT NULL REFERENCES orchestration_steps(id) ON DELETE CASCADE,
    step_key varchar(100) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'resolved', 'expired')),
    decision varchar(20) CHECK (decision IN ('continue', 'retry', 'skip', 'abort')),
    prompt text NOT NULL,
    payload jsonb,
    modifications jsonb,
    comment text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    decided_by uuid REFERENCES users(id) ON DELETE SET NULL,
    expires_at timestamptz
  )`,
  `CREATE INDEX human_approvals_org_status_idx ON human_approvals (organization_id, status, requested_at DESC)`,
  `CREATE INDEX human_approvals_run_idx ON human_approvals (run_id)`,
  `CREATE INDEX human_approvals_expiry_idx ON human_approvals (expires_at) WHERE status = 'pending'`,
  `CREATE TABLE orchestration_events (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id uuid NOT NULL REFERENCES orchestration_runs(id) ON DELETE CASCADE,
    seq integer NOT NULL,
    type varchar(64) NOT NULL,
    step_key varchar(100),
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orchestration_events_run_seq_uq UNIQUE (run_id, seq)
  )`,
  `CREATE INDEX orchestration_events_org_id_idx ON orchestration_events (organization_id, id)`,
  `CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor_type varchar(20) NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id uuid,
    action varchar(100) NOT NULL,
    target_type varchar(50),
    target_id varchar(200),
    details jsonb NOT NULL DEFAULT '{}',
    request_id varchar(100),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX audit_log_org_created_idx ON audit_log (organization_id, created_at DESC)`,
];

export const PHASE1_DOWN = [
  `DROP TABLE audit_log`,
  `DROP TABLE orchestration_events`,
  `DROP TABLE human_approvals`,
  `ALTER TABLE orchestration_runs DROP CONSTRAINT orchestration_runs_parent_step_fk`,
  `DROP TABLE orchestration_steps`,
  `DROP TABLE orchestration_runs`,
  `DROP TABLE orchestration_definitions`,
  `DROP TABLE agents`,
  `DROP TABLE api_keys`,
  `DROP TABLE users`,
  `DROP TABLE organizations`,
];

export class Phase1Schema1763800000000 implements MigrationInterface {
  name = 'Phase1Schema1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE1_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE1_DOWN) await queryRunner.query(sql);
  }
}
