import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phase 4 (webhook wake-ups): the outbox trigger no longer NOTIFYs. A NOTIFY inside a transaction makes PostgreSQL
 * serialise its commit with every other notifying commit (a global lock held across the WAL flush), so with an
 * active subscription every event-writing transaction of the engine queued behind the others. Delivery workers now
 * wake on baton_events, which the engine sends after each commit that appended events (and they still poll).
 */
/** The outbox trigger's function; phase 3 had it notify baton_webhooks when it queued deliveries. */
const enqueueFunction = (
  notify: boolean,
) => `CREATE OR REPLACE FUNCTION baton_enqueue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ON CONFLICT ON CONSTRAINT webhook_deliveries_subscription_event_uq DO NOTHING;${
      notify
        ? `
    IF FOUND THEN
      PERFORM pg_notify('baton_webhooks', '');
    END IF;`
        : ''
    }
    RETURN NULL;
  END $$`;

export const PHASE4_WEBHOOK_WAKEUPS_UP = [enqueueFunction(false)];
export const PHASE4_WEBHOOK_WAKEUPS_DOWN = [enqueueFunction(true)];

export class Phase4WebhookWakeups1764100000000 implements MigrationInterface {
  name = 'Phase4WebhookWakeups1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE4_WEBHOOK_WAKEUPS_UP) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of PHASE4_WEBHOOK_WAKEUPS_DOWN) await queryRunner.query(sql);
  }
}
