import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { ClaimThrottle, EngineDatabase } from '#engine';
import { BatonMetrics, type GaugeSample } from '#observability';
import { OperationalGaugesRepository } from '#persistence';
import { SseConnections } from '../streams/sse-connections.js';
import { StreamSocketServer } from '../streams/stream-socket.js';
import { EventTailProbe } from './event-tail-probe.js';

function poolSamples(name: string, pool: pg.Pool | undefined): GaugeSample[] {
  if (!pool) return [];
  return [
    { labels: { pool: name, state: 'total' }, value: pool.totalCount },
    { labels: { pool: name, state: 'idle' }, value: pool.idleCount },
    { labels: { pool: name, state: 'waiting' }, value: pool.waitingCount },
  ];
}

/**
 * Registers the gauges computed at scrape time: queues and open work read from the database (the same numbers for
 * every instance, since they describe the shared database), and this process's own streams, tail and pools.
 * Providers of other modules (streams, engine pools) are looked up without a hard dependency: a worker process has
 * no streams, and each gauge simply reports nothing it cannot see.
 */
@Injectable()
export class OperationalGauges implements OnModuleInit {
  constructor(
    private readonly metrics: BatonMetrics,
    private readonly repository: OperationalGaugesRepository,
    private readonly tail: EventTailProbe,
    private readonly modules: ModuleRef,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private optional<T>(token: abstract new (...args: never[]) => T): T | undefined {
    try {
      return this.modules.get(token, { strict: false });
    } catch {
      return undefined;
    }
  }

  onModuleInit(): void {
    const m = this.metrics;
    // One query per scrape for the four queue gauges (they are collected one after the other).
    const queue = m.perScrape(() => this.repository.queueDepth());
    const approvals = m.perScrape(() => this.repository.pendingApprovals());
    const deliveries = m.perScrape(() => this.repository.webhookDeliveries());
    m.scrapeGauge('baton_ready_steps', 'Steps due to run and not yet claimed, by agent.', ['agent'], async () =>
      (await queue()).map((r) => ({ labels: { agent: r.agent }, value: r.ready })),
    );
    m.scrapeGauge('baton_retrying_steps', 'Steps waiting out a retry backoff, by agent.', ['agent'], async () =>
      (await queue()).map((r) => ({ labels: { agent: r.agent }, value: r.retrying })),
    );
    m.scrapeGauge('baton_running_steps', 'Steps claimed by a worker and running, by agent.', ['agent'], async () =>
      (await queue()).map((r) => ({ labels: { agent: r.agent }, value: r.running })),
    );
    m.scrapeGauge('baton_oldest_ready_step_age_seconds', 'Age of the longest-waiting due step (0 when the ready queue is empty).', [], async () => {
      const ages = (await queue()).map((r) => r.oldest_ready_seconds ?? 0);
      return [{ value: Math.max(0, ...ages) }];
    });
    m.scrapeGauge('baton_runs_in_flight', 'Runs not finished, by status (pending, running, awaiting_approval).', ['status'], async () => {
      const rows = await this.repository.runsInFlight();
      return ['pending', 'running', 'awaiting_approval'].map((status) => ({ labels: { status }, value: rows.find((r) => r.status === status)?.n ?? 0 }));
    });
    m.scrapeGauge('baton_pending_approvals', 'Checkpoints waiting for a decision.', [], async () => [{ value: (await approvals()).n }]);
    m.scrapeGauge('baton_oldest_pending_approval_age_seconds', 'How long the oldest pending checkpoint has waited (0 when none).', [], async () => [
      { value: (await approvals()).oldest_seconds ?? 0 },
    ]);
    m.scrapeGauge('baton_webhook_deliveries', 'Webhook deliveries not delivered yet, by status (pending, delivering, dead).', ['status'], async () =>
      (await deliveries()).map((r) => ({ labels: { status: r.status }, value: r.n })),
    );
    m.scrapeGauge('baton_webhook_dead_letters', 'Webhook deliveries that exhausted their attempts (dead letters), waiting for a redelivery or retention.', [], async () => [
      { value: (await deliveries()).find((r) => r.status === 'dead')?.n ?? 0 },
    ]);
    m.scrapeGauge('baton_agent_breaker_state', 'Circuit breaker state per agent as every instance sees it: 0 closed, 1 half-open, 2 open.', ['agent'], async () =>
      (await this.repository.breakerStates(this.config.breakerCooldownMs)).map((r) => ({ labels: { agent: r.agent }, value: r.state })),
    );
    m.scrapeGauge('baton_worker_claim_concurrency', "Steps this process's worker runs at once now: BATON_WORKER_CONCURRENCY, lowered while circuit breakers open in a burst (0: no worker).", [], () => {
      const throttle = this.config.role === 'api' ? undefined : this.optional(ClaimThrottle);
      return [{ value: throttle ? throttle.limit(this.config.workerConcurrency) : 0 }];
    });
    m.scrapeGauge('baton_stream_subscribers', 'Open live streams of this process, by transport (sse, websocket).', ['transport'], () => {
      const sse = this.optional(SseConnections);
      const sockets = this.optional(StreamSocketServer);
      const samples: GaugeSample[] = [];
      if (sse) samples.push({ labels: { transport: 'sse' }, value: sse.size });
      if (sockets) samples.push({ labels: { transport: 'websocket' }, value: sockets.openSockets });
      return samples;
    });
    // Only where the tail runs (API roles): an unlabelled gauge cannot be left empty, and 0 would claim "caught up".
    if (this.tail.runsHere) m.scrapeGauge('baton_event_tail_lag_seconds', "Age of the oldest event this process's event tail has not delivered yet (0: caught up). API roles only.", [], async () => {
      const lag = await this.tail.lagSeconds();
      return lag === null ? [] : [{ value: lag }];
    });
    m.scrapeGauge('baton_db_pool_connections', 'PostgreSQL pool connections of this process, by pool (typeorm, engine, worker) and state (total, idle, waiting).', ['pool', 'state'], () => {
      const engine = this.optional(EngineDatabase);
      const typeorm = (this.dataSource.driver as unknown as { master?: pg.Pool }).master;
      return [...poolSamples('typeorm', typeorm), ...poolSamples('engine', engine?.pool), ...poolSamples('worker', engine?.workerPool)];
    });
  }
}
