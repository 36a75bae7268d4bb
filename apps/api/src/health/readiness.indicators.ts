import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { ClaimThrottle, EngineWorker } from '#engine';
import { OperationalGaugesRepository, pendingMigrationNames } from '#persistence';
import { EventTailProbe, TAIL_STALL_SECONDS } from '../metrics/event-tail-probe.js';

const DB_TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * The terminus indicators of GET /ready: the database answers, every migration is applied, this process's event
 * tail runs (API roles; lag is reported), and its worker's claim loop runs (roles all and worker).
 */
@Injectable()
export class ReadinessIndicators {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly tail: EventTailProbe,
    private readonly gauges: OperationalGaugesRepository,
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

  /**
   * Circuit breakers open in a burst (BATON_DEGRADED_OPEN_BREAKERS agents or more): never down (the instance still
   * serves and works, slower on purpose), but `degraded` with the reason and the lowered claim concurrency.
   */
  async breakers() {
    const check = this.health.check('breakers');
    const throttle = this.optional(ClaimThrottle);
    if (!throttle) return check.up({ degraded: false, reason: 'no engine in this process' });
    const status = await withTimeout(throttle.refresh(), DB_TIMEOUT_MS).catch(() => throttle.status);
    const claimConcurrency = this.config.role === 'api' ? null : throttle.limit(this.config.workerConcurrency);
    return check.up({
      degraded: status.degraded,
      openBreakers: status.openBreakers,
      agents: status.agents,
      threshold: this.config.degradedOpenBreakers,
      claimConcurrency,
      ...(status.reason ? { reason: status.reason } : {}),
    });
  }

  async database() {
    const check = this.health.check('database');
    const started = Date.now();
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), DB_TIMEOUT_MS);
      return check.up({ responseMs: Date.now() - started });
    } catch (error) {
      return check.down({ message: `Database unreachable: ${(error as Error).message}` });
    }
  }

  async migrations() {
    const check = this.health.check('migrations');
    try {
      const pending = await withTimeout(pendingMigrationNames(this.dataSource), DB_TIMEOUT_MS);
      return pending.length === 0 ? check.up({ pending }) : check.down({ pending, message: `Pending migrations: ${pending.join(', ')}` });
    } catch (error) {
      return check.down({ pending: [], message: `Migrations unknown: ${(error as Error).message}` });
    }
  }

  async eventTail() {
    const check = this.health.check('eventTail');
    if (!this.tail.runsHere) return check.up({ running: false, reason: 'worker-only process: no event tail' });
    try {
      const lag = await withTimeout(this.tail.lagSeconds(), DB_TIMEOUT_MS);
      if (lag === null) return check.down({ running: false, message: 'Event tail not started' });
      // Lag is reported, not failed on: the tail waits for the oldest open write transaction of the whole database,
      // so a lagging tail would take every API instance out of rotation at once. The BatonEventTailLagging alert covers it.
      const lagSeconds = Math.round(lag * 10) / 10;
      return check.up({ running: true, lagSeconds, behind: lag >= TAIL_STALL_SECONDS });
    } catch (error) {
      return check.down({ message: `Event tail lag unknown: ${(error as Error).message}` });
    }
  }

  async worker() {
    const check = this.health.check('worker');
    if (this.config.role === 'api') return check.up({ claiming: false, reason: 'BATON_ROLE=api: this process claims no steps' });
    const worker = this.optional(EngineWorker);
    // Running steps whose lease expired three lease periods ago: no instance's reaper is reclaiming them.
    const staleLeases = await withTimeout(this.gauges.staleLeases((3 * this.config.leaseMs) / 1000), DB_TIMEOUT_MS).catch(() => null);
    if (!worker?.isRunning) return check.down({ claiming: false, staleLeases, message: 'Worker claim loop is not running' });
    return check.up({ claiming: true, workerId: worker.workerId, staleLeases });
  }
}
