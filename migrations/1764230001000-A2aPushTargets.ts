import type { MigrationInterface, QueryRunner } from 'typeorm';
import { PHASE4_WEBHOOK_WAKEUPS_UP } from './1764100000000-Phase4WebhookWakeups.js';

/**
 * A2A push notifications ride the webhook outbox: a task's push notification config is a webhook subscription
 * scoped to one run (`run_id`), carrying the A2A config (`a2a_config`: config id, task context, protocol version)
 * and the receiver's credentials encrypted like the signing secret (`a2a_auth_encrypted`). The outbox trigger
 * matches a run-scoped subscription only to its run's events, so the deliveries are queued in the event's own
 * transaction like every other webhook's (at least once, retries, dead letters). Organization-wide subscriptions
 * (run_id NULL) behave as before.
 */
const enqueueFunction = `CREATE OR REPLACE FUNCTION baton_enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active) THEN
      RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (organization_id, subscription_id, event_id, event_type)
    SELECT e.organization_id, s.id, e.id, e.type
      FROM new_events e
      JOIN webhook_subscriptions s
        ON s.organization_id = e.organization_id AND s.active
       AND (s.run_id IS NULL OR s.run_id = e.run_id)
       AND (cardinality(s.event_types) = 0 OR e.type = ANY (s.event_types))
    ON CONFLICT ON CONSTRAINT webhook_deliveries_subscription_event_uq DO NOTHING;
    RETURN NULL;
  END $$`;

export const A2A_PUSH_TARGETS_UP = [
  `ALTER TABLE webhook_subscriptions
     ADD COLUMN run_id uuid REFERENCES orchestration_runs (id) ON DELETE CASCADE,
     ADD COLUMN a2a_config jsonb,
     ADD COLUMN a2a_auth_encrypted text`,
  `CREATE INDEX webhook_subscriptions_run_idx ON webhook_subscriptions (run_id) WHERE run_id IS NOT NULL`,
  enqueueFunction,
];

export const A2A_PUSH_TARGETS_DOWN = [
  ...PHASE4_WEBHOOK_WAKEUPS_UP,
  `DROP INDEX webhook_subscriptions_run_idx`,
  `ALTER TABLE webhook_subscriptions DROP COLUMN a2a_auth_encrypted, DROP COLUMN a2a_config, DROP COLUMN run_id`,
];

export class A2aPushTargets1764230001000 implements MigrationInterface {
  name = 'A2aPushTargets1764230001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of A2A_PUSH_TARGETS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of A2A_PUSH_TARGETS_DOWN) await queryRunner.query(sql);
  }
}
