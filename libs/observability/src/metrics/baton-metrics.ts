import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Outcome label of a finished step attempt; a closed set so the label stays bounded. `checkpoint`: the agent answered
 * a step that then waits for a decision; `released`: the worker gave the step back while shutting down.
 */
export type StepOutcome = 'completed' | 'checkpoint' | 'failed' | 'retrying' | 'timeout' | 'cancelled' | 'lease_lost' | 'released';
export type RunOutcome = 'completed' | 'failed' | 'cancelled';
export type BreakerState = 'closed' | 'half_open' | 'open';
export type WebhookResult = 'delivered' | 'failed' | 'dead';

/** Value of `baton_agent_breaker_state` for each state. */
export const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** One sample of a gauge computed at scrape time. */
export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The Prometheus metrics of one process, in one registry (served by GET /metrics and by the BATON_METRICS_PORT
 * listener). Modules report what happened through the methods below instead of touching prom-client, so names,
 * labels and buckets are decided here once. Every label is bounded: agent slugs, definition slugs, model names,
 * outcomes, statuses, route templates. Never a run id, step id or organization id.
 *
 * Scrape-time gauges (queue depth, runs in flight, approvals, deliveries, pools) are registered with
 * `scrapeGauge`: their collect function runs on each scrape, so they cost nothing between scrapes.
 */
@Injectable()
export class BatonMetrics {
  readonly registry = new Registry();
  /** Incremented by each exposition: scrape-time gauges that share a query cache their result per scrape. */
  private scrapes = 0;

  private readonly httpRequests = new Counter({
    name: 'baton_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'baton_http_request_duration_seconds',
    help: 'Time from request to response, by method and route template.',
    labelNames: ['method', 'route'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly runsStarted = new Counter({
    name: 'baton_runs_started_total',
    help: 'Runs created, by definition slug.',
    labelNames: ['definition'] as const,
    registers: [this.registry],
  });
  private readonly runsFinished = new Counter({
    name: 'baton_runs_finished_total',
    help: 'Runs that reached a terminal status, by definition slug and outcome (completed, failed, cancelled).',
    labelNames: ['definition', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly stepsFinished = new Counter({
    name: 'baton_steps_finished_total',
    help: 'Step attempts that ended, by agent and outcome (completed, checkpoint, failed, retrying, timeout, cancelled, lease_lost, released).',
    labelNames: ['agent', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly stepDuration = new Histogram({
    name: 'baton_step_duration_seconds',
    help: 'Duration of one step attempt (started to result), by agent and outcome.',
    labelNames: ['agent', 'outcome'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly dispatch = new Histogram({
    name: 'baton_dispatch_latency_seconds',
    help: 'Time a step waited from due (ready) to started by a worker.',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly breakerTransitions = new Counter({
    name: 'baton_agent_breaker_transitions_total',
    help: 'Circuit breaker state changes this process applied, by agent and new state (open, half_open, closed).',
    labelNames: ['agent', 'to'] as const,
    registers: [this.registry],
  });
  private readonly llmTokens = new Counter({
    name: 'baton_llm_tokens_total',
    help: 'LLM tokens used, by agent, model and type (input, output).',
    labelNames: ['agent', 'model', 'type'] as const,
    registers: [this.registry],
  });
  private readonly llmCost = new Counter({
    name: 'baton_llm_cost_usd_total',
    help: 'Estimated LLM cost in US dollars, by agent and model.',
    labelNames: ['agent', 'model'] as const,
    registers: [this.registry],
  });
  private readonly stepCache = new Counter({
    name: 'baton_step_cache_lookups_total',
    help: 'Step output cache lookups of steps with `cache:`, by agent and result (hit: reused without calling the agent; miss).',
    labelNames: ['agent', 'result'] as const,
    registers: [this.registry],
  });
  private readonly webhookAttempts = new Counter({
    name: 'baton_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts, by result (delivered, failed, dead).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** One HTTP request answered; `route` is the route template (`/orchestrations/runs/:id`), never the raw path. */
  httpRequest(method: string, route: string, status: number, durationMs: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, durationMs / 1000);
  }

  runStarted(definition: string): void {
    this.runsStarted.inc({ definition });
  }

  runFinished(definition: string, outcome: RunOutcome): void {
    this.runsFinished.inc({ definition, outcome });
  }

  stepFinished(agent: string, outcome: StepOutcome, durationMs: number): void {
    this.stepsFinished.inc({ agent, outcome });
    this.stepDuration.observe({ agent, outcome }, durationMs / 1000);
  }

  dispatchLatency(ms: number): void {
    this.dispatch.observe(Math.max(0, ms) / 1000);
  }

  /** A breaker changed state (the state itself is the database gauge `baton_agent_breaker_state`). */
  breakerTransition(agent: string, to: BreakerState): void {
    this.breakerTransitions.inc({ agent, to });
  }

  llmUsage(usage: { agent: string; model: string; inputTokens?: number; outputTokens?: number; costUsd?: number }): void {
    if (usage.inputTokens) this.llmTokens.inc({ agent: usage.agent, model: usage.model, type: 'input' }, usage.inputTokens);
    if (usage.outputTokens) this.llmTokens.inc({ agent: usage.agent, model: usage.model, type: 'output' }, usage.outputTokens);
    if (usage.costUsd) this.llmCost.inc({ agent: usage.agent, model: usage.model }, usage.costUsd);
  }

  /** A caching step's attempt started: its output was found in the step cache (hit) or will be produced (miss). */
  stepCacheLookup(agent: string, result: 'hit' | 'miss'): void {
    this.stepCache.inc({ agent, result });
  }

  webhookAttempt(result: WebhookResult): void {
    this.webhookAttempts.inc({ result });
  }

  /**
   * A gauge whose samples are computed on each scrape (cheap indexed SQL, in-memory counts). A failing collect
   * leaves the gauge empty for that scrape rather than failing the whole scrape.
   */
  scrapeGauge(name: string, help: string, labelNames: readonly string[], collect: () => Promise<GaugeSample[]> | GaugeSample[]): void {
    if (this.registry.getSingleMetric(name)) this.registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        let samples: GaugeSample[];
        try {
          samples = await collect();
        } catch {
          return;
        }
        for (const sample of samples) {
          if (sample.labels) this.set(sample.labels, sample.value);
          else this.set(sample.value);
        }
      },
    });
  }

  /** Shares one load between the gauges of one scrape (they are collected one after the other). */
  perScrape<T>(load: () => Promise<T>): () => Promise<T> {
    let cached: { scrape: number; value: Promise<T> } | null = null;
    return () => {
      if (!cached || cached.scrape !== this.scrapes) cached = { scrape: this.scrapes, value: load() };
      return cached.value;
    };
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    this.scrapes++;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
