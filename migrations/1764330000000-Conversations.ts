import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Persistent conversations (A2A contexts that outlive processes, docs/conversations.md):
 * - `conversations`: one row per (organization, contextId), state active -> idle -> expired by inactivity. Its row
 *   lock orders the history: `last_seq` is bumped and the message inserted under it, so seqs commit in order and a
 *   reader paging with `?after=seq` can never skip one that commits late.
 * - `task_messages`: the append-only history of a context (user messages in, agent answers out), keyed by
 *   (conversation, seq); `message_id` makes a repeated A2A message (same messageId) a no-op.
 * - `conversation_runs`: the runs (A2A tasks) started in a context, and how far each one's answer has been recorded
 *   into the history (`answered_seq`: the run's log position of the last recorded answer; `settled` once a finished
 *   run's final answer is in).
 * - `conversation_agent_state`: one JSON document per agent per context, with an integer `version` for optimistic
 *   locking.
 */
export const CONVERSATIONS_UP = [
  `CREATE TABLE conversations (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     context_id varchar(200) NOT NULL,
     state varchar(16) NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'idle', 'expired')),
     last_seq bigint NOT NULL DEFAULT 0,
     created_at timestamptz NOT NULL DEFAULT now(),
     last_activity_at timestamptz NOT NULL DEFAULT now(),
     idle_at timestamptz,
     expires_at timestamptz NOT NULL,
     expired_at timestamptz,
     CONSTRAINT conversations_context_key UNIQUE (organization_id, context_id)
   )`,
  `CREATE INDEX conversations_list_idx ON conversations (organization_id, last_activity_at DESC, id DESC)`,
  `CREATE INDEX conversations_open_idx ON conversations (last_activity_at) WHERE state <> 'expired'`,
  `CREATE TABLE task_messages (
     conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
     seq bigint NOT NULL,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     role varchar(8) NOT NULL CHECK (role IN ('user', 'agent')),
     parts jsonb NOT NULL,
     run_id uuid REFERENCES orchestration_runs (id) ON DELETE SET NULL,
     message_id varchar(200),
     created_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (conversation_id, seq)
   )`,
  `CREATE UNIQUE INDEX task_messages_message_id_key ON task_messages (conversation_id, message_id) WHERE message_id IS NOT NULL`,
  `CREATE TABLE conversation_runs (
     run_id uuid PRIMARY KEY REFERENCES orchestration_runs (id) ON DELETE CASCADE,
     conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     answered_seq bigint NOT NULL DEFAULT 0,
     settled boolean NOT NULL DEFAULT false,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX conversation_runs_conversation_idx ON conversation_runs (conversation_id, created_at)`,
  `CREATE INDEX conversation_runs_unsettled_idx ON conversation_runs (created_at) WHERE NOT settled`,
  `CREATE TABLE conversation_agent_state (
     conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
     agent_slug varchar(100) NOT NULL,
     organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
     state jsonb NOT NULL,
     version integer NOT NULL CHECK (version > 0),
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (conversation_id, agent_slug)
   )`,
];

export const CONVERSATIONS_DOWN = [
  `DROP TABLE conversation_agent_state`,
  `DROP TABLE conversation_runs`,
  `DROP TABLE task_messages`,
  `DROP TABLE conversations`,
];

export class Conversations1764330000000 implements MigrationInterface {
  name = 'Conversations1764330000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of CONVERSATIONS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of CONVERSATIONS_DOWN) await queryRunner.query(sql);
  }
}
