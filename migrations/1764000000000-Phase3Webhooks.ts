import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phase 3 (webhooks): subscriptions and a transactional outbox of deliveries.
 * - webhook_subscriptions: the signing secret is stored encrypted (AES-256-GCM, see libs/webhooks) and only
 *   ever returned once, on creation; empty event_types means every event type;
 * - webhook_deliveries: one row per (subscription, event), inserted by a trigger on orchestration_events in the
 *   SAME transaction as the event, so an event that commits always has its deliveries and a rolled-back one never
 *   has any, whichever process wrote it and with no engine code involved. `attempts` only grows (it fences a
 *   worker's result to its own attempt); `attempt_base` is where the current retry budget started, moved forward
 *   by a manual redelivery;
 * - webhook_delivery_attempts: what each attempt sent and got back (status, truncated body, error, duration).
 * The trigger NOTIFYs baton_webhooks so delivery workers wake at once (they also poll).
 */
export const PHASE3_WEBHOOKS_UP = [
  `CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url varchar(2048) NOT NULL,
    description varchar(500),
    event_types text[] NOT NULL DEFAULT '{}',
    secret_encrypted text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX webhook_subscriptions_org_idx ON webhook_subscriptions (organization_id, created_at DESC)`,
  `CREATE INDEX webhook_subscriptions_active_idx ON webhook_subscriptions (organization_id) WHERE active`,
  `CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    subscription_id uuid NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id bigint NOT NULL REFERENCES orchestration_events(id) ON DELETE CASCADE,
    event_type varchar(64) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    attempt_base integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error text,
    last_response text,
    delivered_at timestamptz,
    dead_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_subscription_event_uq UNIQUE (subscription_id, event_id)
  )`,
  `CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
  `CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (lease_expires_at) WHERE status = 'delivering'`,
  `CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`,
  `CREATE TABLE webhook_delivery_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    status_code integer,
    error text,
    response_body text,
    duration_ms integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_delivery_attempts_delivery_attempt_uq UNIQUE (delivery_id, attempt)
  )`,
  // The outbox: one statement-level trigger covers every writer of events. With no active subscription at all
  // it costs one probe of a tiny table.
  `CREATE FUNCTION baton_enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active) THEN
      RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (organization_id, subscription_id, event_id, event_type)
    SELECT e.organization_id, s.id, e.id, e.type
      FROM new_events e
      JOIN webhook_subscriptions s
        ON s.organization_id = e.organization_id AND s.active
       AND (cardinality(s.event_types) = 0 OR e.type = ANY (s.event_types))
    ON CONFLICT ON CONSTRAINT webhook_deliveries_subscription_event_uq DO NOTHING;
    IF FOUND THEN
      PERFORM pg_notify('baton_webhooks', '');
    END IF;
    RETURN NULL;
  END $$`,
  `CREATE TRIGGER orchestration_events_webhooks AFTER INSERT ON orchestration_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION baton_enqueue_webhook_deliveries()`,
];

export const PHASE3_WEBHOOKS_DOWN = [
  `DROP TRIGGER orchestration_events_webhooks ON orchestration_events`,
  `DROP FUNCTION baton_enqueue_webhook_deliveries()`,
  `DROP TABLE webhook_delivery_attempts`,
  `DROP TABLE webhook_deliveries`,
  `DROP TABLE webhook_subscriptions`,
];

export class Phase3Webhooks1764000000000 implements MigrationInterface {
  name = 'Phase3Webhooks1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE3_WEBHOOKS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE3_WEBHOOKS_DOWN) await queryRunner.query(sql);
  }
}
