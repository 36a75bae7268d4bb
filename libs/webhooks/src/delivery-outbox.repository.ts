/**
 * The dispatcher's side of the outbox (not scoped to an organization: workers serve every tenant).
 * Invariants:
 * - a delivery is claimed by one worker at a time (FOR UPDATE SKIP LOCKED), under a lease; a worker that dies
 *   mid-attempt leaves a `delivering` row whose lease expires and any worker claims it again (at least once);
 * - claiming bumps `attempts`, and an outcome is applied only while the row is still `delivering` with that same
 *   attempt number, so a late answer to an attempt whose lease was lost cannot overwrite a newer attempt's result;
 * - every attempt that reached the network is logged in webhook_delivery_attempts, applied or not.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { A2aPushTarget } from './a2a-push-targets.repository.js';

/** A delivery to an A2A push target (a run-scoped subscription): how to shape and authenticate it. */
export interface A2aDelivery {
  target: A2aPushTarget;
  authEncrypted: string | null;
  /** 1-based position of the event's step in its run, and the run's step count ("Step i/n"). */
  stepIndex: number;
  stepCount: number;
}

export interface ClaimedDelivery {
  id: string;
  attempt: number;
  attemptBase: number;
  url: string;
  secretEncrypted: string;
  a2a: A2aDelivery | null;
  event: {
    id: string;
    type: string;
    runId: string;
    seq: number;
    stepKey: string | null;
    payload: unknown;
    createdAt: Date;
  };
}

interface ClaimRow {
  id: string;
  attempts: number;
  attempt_base: number;
  url: string;
  secret_encrypted: string;
  a2a_config: A2aPushTarget | null;
  a2a_auth_encrypted: string | null;
  step_index: number | null;
  step_count: number | null;
  event_id: string;
  type: string;
  run_id: string;
  seq: number;
  step_key: string | null;
  payload: unknown;
  created_at: Date;
}

export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
}

/** What to do with the delivery after the attempt: done, try again at a time, or dead-letter it. */
export type NextStep = { status: 'delivered' } | { status: 'pending'; delayMs: number } | { status: 'dead' };

@Injectable()
export class DeliveryOutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows: ClaimRow[] = await this.dataSource.query(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
          WHERE (status = 'pending' AND next_attempt_at <= now())
             OR (status = 'delivering' AND lease_expires_at < now())
          ORDER BY next_attempt_at
          LIMIT $1
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d
            SET status = 'delivering', attempts = d.attempts + 1, lease_expires_at = now() + $2::float8 * interval '1 millisecond',
                last_attempt_at = now(), updated_at = now()
           FROM due WHERE d.id = due.id
         RETURNING d.id, d.subscription_id, d.event_id, d.attempts, d.attempt_base
       )
       SELECT c.id, c.attempts, c.attempt_base, s.url, s.secret_encrypted, s.a2a_config, s.a2a_auth_encrypted,
              e.id::text AS event_id, e.type, e.run_id, e.seq, e.step_key, e.payload, e.created_at, st.step_index, st.step_count
         FROM claimed c
         JOIN webhook_subscriptions s ON s.id = c.subscription_id
         JOIN orchestration_events e ON e.id = c.event_id
         LEFT JOIN LATERAL (
           SELECT (SELECT count(*)::int FROM orchestration_steps p WHERE p.run_id = e.run_id AND p.position <= k.position) AS step_index,
                  (SELECT count(*)::int FROM orchestration_steps a WHERE a.run_id = e.run_id) AS step_count
             FROM orchestration_steps k WHERE s.run_id IS NOT NULL AND k.run_id = e.run_id AND k.step_key = e.step_key
         ) st ON true`,
      [limit, leaseMs],
    );
    return rows.map((r) => ({
      id: r.id,
      attempt: r.attempts,
      attemptBase: r.attempt_base,
      url: r.url,
      secretEncrypted: r.secret_encrypted,
      a2a: r.a2a_config
        ? { target: r.a2a_config, authEncrypted: r.a2a_auth_encrypted, stepIndex: r.step_index ?? 0, stepCount: r.step_count ?? 0 }
        : null,
      event: {
        id: String(r.event_id),
        type: r.type,
        runId: r.run_id,
        seq: r.seq,
        stepKey: r.step_key,
        payload: r.payload,
        createdAt: r.created_at,
      },
    }));
  }

  /** Logs the attempt and applies its outcome if this worker still holds that attempt; false when it did not. */
  async record(deliveryId: string, attempt: number, outcome: AttemptOutcome, next: NextStep): Promise<boolean> {
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH logged AS (
         INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status_code, error, response_body, duration_ms)
         SELECT $1::uuid, $2::int, $3::int, $4::text, $5::text, $6::int WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1::uuid)
         ON CONFLICT ON CONSTRAINT webhook_delivery_attempts_delivery_attempt_uq DO NOTHING
       ), applied AS (
         UPDATE webhook_deliveries
            SET status = $7::text,
                next_attempt_at = CASE WHEN $7::text = 'pending' THEN now() + $8::float8 * interval '1 millisecond' ELSE next_attempt_at END,
                delivered_at = CASE WHEN $7::text = 'delivered' THEN now() ELSE delivered_at END,
                dead_at = CASE WHEN $7::text = 'dead' THEN now() ELSE NULL END,
                lease_expires_at = NULL, last_status_code = $3::int, last_error = $4::text, last_response = $5::text, updated_at = now()
          WHERE id = $1::uuid AND attempts = $2::int AND status = 'delivering'
          RETURNING id
       )
       SELECT id FROM applied`,
      [
        deliveryId,
        attempt,
        outcome.statusCode,
        outcome.error,
        outcome.responseBody,
        outcome.durationMs,
        next.status,
        next.status === 'pending' ? next.delayMs : 0,
      ],
    );
    return rows.length > 0;
  }

  /**
   * Deletes up to `limit` finished deliveries (delivered or dead) last changed more than `days` ago; their attempt
   * logs go with them (ON DELETE CASCADE). Pending and in-flight deliveries are never touched. Returns how many went.
   */
  async purgeFinished(days: number, limit: number): Promise<number> {
    // Counted by a SELECT over the CTE: TypeORM answers a bare DELETE ... RETURNING with a [rows, rowCount] pair,
    // whose length (2) was once taken for the count (a wrong log line every start, and one batch per purge).
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH deleted AS (
         DELETE FROM webhook_deliveries WHERE id IN (
           SELECT id FROM webhook_deliveries
            WHERE status IN ('delivered', 'dead') AND updated_at < now() - make_interval(days => $1::int)
            LIMIT $2)
         RETURNING id)
       SELECT count(*)::int AS n FROM deleted`,
      [days, limit],
    );
    return rows[0].n;
  }
}
