import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phase 3 (approvals): what a checkpoint needs beyond the phase-1 row, and an immutable decision history.
 * - human_approvals gains the step attempt it gates, allowed decisions, roles/assignees, quorum, the timeout policy
 *   and escalation deadline (stored, so a restart loses no deadline);
 * - approval_decisions keeps every decision with the payload the approver saw and a diff of the modifications;
 *   neither it nor a resolved approval can be updated (triggers), so history cannot be rewritten.
 */
export const PHASE3_APPROVALS_UP = [
  `ALTER TABLE human_approvals
     ADD COLUMN attempt integer NOT NULL DEFAULT 1,
     ADD COLUMN decisions text[] NOT NULL DEFAULT '{continue,retry,skip,abort}',
     ADD COLUMN roles text[] NOT NULL DEFAULT '{approver,admin}',
     ADD COLUMN assignees text[] NOT NULL DEFAULT '{}',
     ADD COLUMN quorum integer NOT NULL DEFAULT 1 CHECK (quorum >= 1),
     ADD COLUMN on_timeout varchar(20) NOT NULL DEFAULT 'abort' CHECK (on_timeout IN ('abort', 'continue', 'skip')),
     ADD COLUMN escalate_at timestamptz,
     ADD COLUMN escalated_at timestamptz`,
  `CREATE INDEX human_approvals_escalation_idx ON human_approvals (escalate_at) WHERE status = 'pending' AND escalated_at IS NULL`,
  `CREATE TABLE approval_decisions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    approval_id uuid NOT NULL REFERENCES human_approvals(id) ON DELETE CASCADE,
    actor_type varchar(20) NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id uuid,
    decided_by uuid REFERENCES users(id) ON DELETE SET NULL,
    decision varchar(20) NOT NULL CHECK (decision IN ('continue', 'retry', 'skip', 'abort')),
    modifications jsonb,
    modifications_diff jsonb NOT NULL DEFAULT '[]',
    payload_seen jsonb,
    comment text,
    reason varchar(20) NOT NULL DEFAULT 'human' CHECK (reason IN ('human', 'timeout')),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX approval_decisions_approval_idx ON approval_decisions (approval_id, created_at)`,
  `CREATE UNIQUE INDEX approval_decisions_one_per_user_uq ON approval_decisions (approval_id, decided_by) WHERE decided_by IS NOT NULL`,
  `CREATE FUNCTION baton_forbid_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_TABLE_NAME = 'human_approvals' THEN
      IF OLD.status = 'pending' THEN
        RETURN NEW;
      END IF;
    END IF;
    RAISE EXCEPTION 'approval history is immutable (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'raise_exception';
  END $$`,
  `CREATE TRIGGER approval_decisions_immutable BEFORE UPDATE ON approval_decisions
    FOR EACH ROW EXECUTE FUNCTION baton_forbid_history_change()`,
  `CREATE TRIGGER human_approvals_resolved_immutable BEFORE UPDATE ON human_approvals
    FOR EACH ROW EXECUTE FUNCTION baton_forbid_history_change()`,
];

export const PHASE3_APPROVALS_DOWN = [
  `DROP TRIGGER human_approvals_resolved_immutable ON human_approvals`,
  `DROP TRIGGER approval_decisions_immutable ON approval_decisions`,
  `DROP FUNCTION baton_forbid_history_change()`,
  `DROP TABLE approval_decisions`,
  `DROP INDEX human_approvals_escalation_idx`,
  `ALTER TABLE human_approvals
     DROP COLUMN escalated_at, DROP COLUMN escalate_at, DROP COLUMN on_timeout, DROP COLUMN quorum,
     DROP COLUMN assignees, DROP COLUMN roles, DROP COLUMN decisions, DROP COLUMN attempt`,
];

export class Phase3Approvals1764000001000 implements MigrationInterface {
  name = 'Phase3Approvals1764000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE3_APPROVALS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE3_APPROVALS_DOWN) await queryRunner.query(sql);
  }
}
