import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface QueueDepthRow {
  agent: string;
  ready: number;
  retrying: number;
  running: number;
  oldest_ready_seconds: number | null;
}

/**
 * The SQL behind the scrape-time gauges and `queue:status`, across every organization: operators watch the
 * deployment, not one tenant. Each statement reads only an open-state partial index (the ready and running step
 * indexes, and those of migration ObservabilityIndexes), so a scrape costs the size of the queues, not the tables.
 */
@Injectable()
export class OperationalGaugesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Ready steps (due now) and retrying ones (ready, waiting out a backoff), with the age of the oldest due step,
   * and running steps, per agent. Approval gates have no agent: reported as `(approval)`.
   */
  async queueDepth(): Promise<QueueDepthRow[]> {
    return this.dataSource.query(
      `WITH ready AS (
         SELECT coalesce(agent_slug, '(approval)') AS agent,
                count(*) FILTER (WHERE next_attempt_at <= now())::int AS ready,
                count(*) FILTER (WHERE next_attempt_at > now())::int AS retrying,
                extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now()))::float8 AS oldest_ready_seconds
           FROM orchestration_steps WHERE status = 'ready' GROUP BY 1),
       running AS (
         SELECT coalesce(agent_slug, '(approval)') AS agent, count(*)::int AS running
           FROM orchestration_steps WHERE status = 'running' GROUP BY 1)
       SELECT coalesce(r.agent, g.agent) AS agent, coalesce(r.ready, 0) AS ready, coalesce(r.retrying, 0) AS retrying,
              coalesce(g.running, 0) AS running, r.oldest_ready_seconds
         FROM ready r FULL JOIN running g ON g.agent = r.agent
        ORDER BY 1`,
    );
  }

  /** Runs not finished, by status (pending, running, awaiting_approval). */
  async runsInFlight(): Promise<{ status: string; n: number }[]> {
    return this.dataSource.query(
      `SELECT status, count(*)::int AS n FROM orchestration_runs
        WHERE status IN ('pending', 'running', 'awaiting_approval') AND deleted_at IS NULL GROUP BY status`,
    );
  }

  /** Steps parked at a checkpoint or waiting for child runs, for queue:status. */
  async waitingSteps(): Promise<{ agent: string; n: number }[]> {
    return this.dataSource.query(
      `SELECT coalesce(s.agent_slug, '(approval)') AS agent, count(*)::int AS n
         FROM human_approvals a JOIN orchestration_steps s ON s.id = a.step_id
        WHERE a.status = 'pending' GROUP BY 1 ORDER BY 1`,
    );
  }

  async pendingApprovals(): Promise<{ n: number; oldest_seconds: number | null }> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n, extract(epoch FROM now() - min(requested_at))::float8 AS oldest_seconds
         FROM human_approvals WHERE status = 'pending'`,
    );
    return row;
  }

  /** Webhook deliveries still open (pending, delivering) and dead letters. Delivered ones are counted by the dispatcher. */
  async webhookDeliveries(): Promise<{ status: string; n: number }[]> {
    return this.dataSource.query(
      `SELECT 'pending' AS status, count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'
       UNION ALL SELECT 'delivering', count(*)::int FROM webhook_deliveries WHERE status = 'delivering'
       UNION ALL SELECT 'dead', count(*)::int FROM webhook_deliveries WHERE status = 'dead'`,
    );
  }

  /**
   * Circuit breaker state per agent slug as every instance sees it (the published state on the agent row; an open one
   * past its cool-down is half-open), the worst over organizations: 0 closed, 1 half-open, 2 open.
   */
  async breakerStates(cooldownMs: number): Promise<{ agent: string; state: number }[]> {
    return this.dataSource.query(
      `SELECT slug AS agent,
              max(CASE WHEN breaker_state = 'open' AND breaker_changed_at > now() - make_interval(secs => $1::double precision / 1000) THEN 2
                       WHEN breaker_state IN ('open', 'half_open') THEN 1 ELSE 0 END)::int AS state
         FROM agents GROUP BY slug ORDER BY slug`,
      [cooldownMs],
    );
  }

  /** The newest event (by id, the primary key) and its age: the event tail's lag is measured against it. */
  async newestEvent(): Promise<{ id: string; age_seconds: number } | null> {
    const rows: { id: string; age_seconds: number }[] = await this.dataSource.query(
      `SELECT id::text, extract(epoch FROM now() - created_at)::float8 AS age_seconds FROM orchestration_events ORDER BY id DESC LIMIT 1`,
    );
    return rows[0] ?? null;
  }

  /** The id of the first committed event after `eventId` (by id, the primary key), or null when there is none. */
  async firstEventIdAfter(eventId: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id::text FROM orchestration_events WHERE id > $1::bigint ORDER BY id LIMIT 1`, [eventId]);
    return rows[0]?.id ?? null;
  }

  /** Running steps whose lease expired more than `graceSeconds` ago: nobody's reaper is reclaiming them. */
  async staleLeases(graceSeconds: number): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM orchestration_steps WHERE status = 'running' AND lease_expires_at < now() - make_interval(secs => $1)`,
      [graceSeconds],
    );
    return row.n;
  }
}
