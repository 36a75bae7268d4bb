import { CONFIG_VARIABLES, type ConfigName } from './config-variables.js';

export type BatonRole = 'all' | 'api' | 'worker';
export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';
export type LogFormat = 'pretty' | 'json';

/** Typed configuration, read and validated once. */
export interface AppConfig {
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  pgPort: number;
  role: BatonRole;
  jwtSecret: string | undefined;
  jwtExpiresInSeconds: number;
  /** BATON_AUTH_CACHE_MS: how long authentication reuses a user or API key row (0: never). */
  authCacheMs: number;
  adminEmail: string;
  adminPassword: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Bearer token of GET /metrics on the API port; unset: not served there. */
  metricsToken: string | undefined;
  /** Port of the separate, token-less metrics listener; unset: none. */
  metricsPort: number | undefined;
  otlpEndpoint: string | undefined;
  otelServiceName: string;
  autoMigrate: boolean;
  nodeEnv: string;
  workerConcurrency: number;
  leaseMs: number;
  /** The API's TypeORM pool. */
  dbPoolSize: number;
  dbConnectTimeoutMs: number;
  /** How long a starting process keeps retrying its first database connection (0: not at all). */
  dbStartupRetryMs: number;
  enginePoolSize: number;
  workerPoolSize: number;
  claimBatch: number;
  flushLanes: number;
  /** Least time between two NOTIFYs of new events sent by this process (see EngineDatabase.send). */
  eventsNotifyMs: number;
  shutdownGraceMs: number;
  /** Deepest nesting of sub-orchestrations (a root run is depth 0). */
  maxOrchestrationDepth: number;
  /** Most items one forEach step fans out to. */
  maxForEachItems: number;
  /** Messages of a run's conversation that `{{ context.history }}` gives a step. */
  contextHistoryLimit: number;
  /** Most tokens of history a context agent receives as chat messages (the oldest are dropped first). */
  contextHistoryTokens: number;
  pollIntervalMs: number;
  breakerFailures: number;
  breakerWindowMs: number;
  breakerCooldownMs: number;
  degradedOpenBreakers: number;
  degradedClaimPercent: number;
  runRateLimit: number;
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerAddress: number;
  sseHeartbeatMs: number;
  sseMaxQueue: number;
  webhookMaxAttempts: number;
  webhookTimeoutMs: number;
  webhookRetryDelayMs: number;
  webhookMaxRetryDelayMs: number;
  webhookConcurrency: number;
  webhookSecretKey: string | undefined;
  webhookAllowPrivateNetworks: boolean;
  agentAllowPrivateNetworks: boolean;
  llmBaseUrl: string | undefined;
  /** BATON_LLM_PRICES, as given (validated); merged over the built-in table by context agents. */
  llmPrices: Record<string, { inputPerMTok: number; outputPerMTok: number }>;
  webhookRetentionDays: number;
  /** Days a finished run's events are kept (its terminal event stays); unset: forever. */
  eventRetentionDays: number | undefined;
  /** Inactivity after which a conversation turns idle, then expires (ms). */
  conversationIdleMs: number;
  conversationExpireMs: number;
  /** Interval of the conversation job (answers into history, idle/expiry transitions). */
  conversationSweepMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

function raw(env: NodeJS.ProcessEnv, name: ConfigName): string | undefined {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  const variable = CONFIG_VARIABLES.find((v) => v.name === name);
  return variable && 'default' in variable ? variable.default : undefined;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string, problems: string[]): T {
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
  return allowed[0];
}

function flag(value: string | undefined, name: string, problems: string[]): boolean {
  if (!['true', 'false', '1', '0'].includes(value ?? '')) problems.push(`${name} must be true or false (got "${value}")`);
  return value === 'true' || value === '1';
}

function positiveInt(value: string | undefined, name: string, problems: string[]): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) problems.push(`${name} must be a positive integer (got "${value}")`);
  return n;
}

function nonNegativeInt(value: string | undefined, name: string, problems: string[]): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) problems.push(`${name} must be a non-negative integer (got "${value}")`);
  return n;
}

function priceTable(value: string | undefined, name: string, problems: string[]): Record<string, { inputPerMTok: number; outputPerMTok: number }> {
  if (value === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const price = (p: unknown) => typeof p === 'number' && Number.isFinite(p) && p >= 0;
  const valid =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((e) => e !== null && typeof e === 'object' && price((e as Record<string, unknown>).inputPerMTok) && price((e as Record<string, unknown>).outputPerMTok));
  if (!valid) {
    problems.push(`${name} must be a JSON object of model -> { inputPerMTok, outputPerMTok } (non-negative numbers)`);
    return {};
  }
  return parsed as Record<string, { inputPerMTok: number; outputPerMTok: number }>;
}

function port(value: string | undefined, name: string, problems: string[]): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) problems.push(`${name} must be a TCP port (got "${value}")`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const problems: string[] = [];
  const expires = Number(raw(env, 'JWT_EXPIRES_IN_SECONDS'));
  if (!Number.isInteger(expires) || expires <= 0) problems.push('JWT_EXPIRES_IN_SECONDS must be a positive integer');
  const config: AppConfig = {
    port: port(raw(env, 'PORT'), 'PORT', problems),
    databaseUrl: raw(env, 'DATABASE_URL'),
    dataDir: raw(env, 'BATON_DATA_DIR') ?? '.data',
    pgPort: port(raw(env, 'BATON_PG_PORT'), 'BATON_PG_PORT', problems),
    role: oneOf(raw(env, 'BATON_ROLE'), ['all', 'api', 'worker'] as const, 'BATON_ROLE', problems),
    jwtSecret: raw(env, 'JWT_SECRET'),
    jwtExpiresInSeconds: expires,
    authCacheMs: nonNegativeInt(raw(env, 'BATON_AUTH_CACHE_MS'), 'BATON_AUTH_CACHE_MS', problems),
    adminEmail: raw(env, 'ADMIN_EMAIL') ?? '',
    adminPassword: raw(env, 'ADMIN_PASSWORD') ?? '',
    logLevel: oneOf(raw(env, 'LOG_LEVEL'), ['error', 'warn', 'log', 'debug', 'verbose'] as const, 'LOG_LEVEL', problems),
    logFormat: oneOf(raw(env, 'LOG_FORMAT') ?? ((raw(env, 'NODE_ENV') ?? 'development') === 'development' ? 'pretty' : 'json'), ['pretty', 'json'] as const, 'LOG_FORMAT', problems),
    metricsToken: raw(env, 'BATON_METRICS_TOKEN'),
    metricsPort: raw(env, 'BATON_METRICS_PORT') === undefined ? undefined : port(raw(env, 'BATON_METRICS_PORT'), 'BATON_METRICS_PORT', problems),
    otlpEndpoint: raw(env, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
    otelServiceName: raw(env, 'OTEL_SERVICE_NAME') ?? 'baton',
    autoMigrate: flag(raw(env, 'BATON_AUTO_MIGRATE'), 'BATON_AUTO_MIGRATE', problems),
    nodeEnv: raw(env, 'NODE_ENV') ?? 'development',
    workerConcurrency: positiveInt(raw(env, 'BATON_WORKER_CONCURRENCY'), 'BATON_WORKER_CONCURRENCY', problems),
    leaseMs: positiveInt(raw(env, 'BATON_LEASE_MS'), 'BATON_LEASE_MS', problems),
    dbPoolSize: positiveInt(raw(env, 'BATON_DB_POOL_SIZE'), 'BATON_DB_POOL_SIZE', problems),
    dbConnectTimeoutMs: positiveInt(raw(env, 'BATON_DB_CONNECT_TIMEOUT_MS'), 'BATON_DB_CONNECT_TIMEOUT_MS', problems),
    dbStartupRetryMs: nonNegativeInt(raw(env, 'BATON_DB_STARTUP_RETRY_MS'), 'BATON_DB_STARTUP_RETRY_MS', problems),
    enginePoolSize: positiveInt(raw(env, 'BATON_ENGINE_POOL_SIZE'), 'BATON_ENGINE_POOL_SIZE', problems),
    workerPoolSize: positiveInt(raw(env, 'BATON_WORKER_POOL_SIZE'), 'BATON_WORKER_POOL_SIZE', problems),
    claimBatch: positiveInt(raw(env, 'BATON_CLAIM_BATCH'), 'BATON_CLAIM_BATCH', problems),
    flushLanes: positiveInt(raw(env, 'BATON_FLUSH_LANES'), 'BATON_FLUSH_LANES', problems),
    eventsNotifyMs: nonNegativeInt(raw(env, 'BATON_EVENTS_NOTIFY_MS'), 'BATON_EVENTS_NOTIFY_MS', problems),
    shutdownGraceMs: positiveInt(raw(env, 'BATON_SHUTDOWN_GRACE_MS'), 'BATON_SHUTDOWN_GRACE_MS', problems),
    maxOrchestrationDepth: positiveInt(raw(env, 'BATON_MAX_ORCHESTRATION_DEPTH'), 'BATON_MAX_ORCHESTRATION_DEPTH', problems),
    maxForEachItems: positiveInt(raw(env, 'BATON_MAX_FOREACH_ITEMS'), 'BATON_MAX_FOREACH_ITEMS', problems),
    contextHistoryLimit: positiveInt(raw(env, 'BATON_CONTEXT_HISTORY_LIMIT'), 'BATON_CONTEXT_HISTORY_LIMIT', problems),
    contextHistoryTokens: positiveInt(raw(env, 'BATON_CONTEXT_HISTORY_TOKENS'), 'BATON_CONTEXT_HISTORY_TOKENS', problems),
    pollIntervalMs: positiveInt(raw(env, 'BATON_POLL_INTERVAL_MS'), 'BATON_POLL_INTERVAL_MS', problems),
    breakerFailures: positiveInt(raw(env, 'BATON_BREAKER_FAILURES'), 'BATON_BREAKER_FAILURES', problems),
    breakerWindowMs: positiveInt(raw(env, 'BATON_BREAKER_WINDOW_MS'), 'BATON_BREAKER_WINDOW_MS', problems),
    breakerCooldownMs: positiveInt(raw(env, 'BATON_BREAKER_COOLDOWN_MS'), 'BATON_BREAKER_COOLDOWN_MS', problems),
    degradedOpenBreakers: positiveInt(raw(env, 'BATON_DEGRADED_OPEN_BREAKERS'), 'BATON_DEGRADED_OPEN_BREAKERS', problems),
    degradedClaimPercent: Math.min(100, positiveInt(raw(env, 'BATON_DEGRADED_CLAIM_PERCENT'), 'BATON_DEGRADED_CLAIM_PERCENT', problems)),
    runRateLimit: positiveInt(raw(env, 'BATON_RUN_RATE_LIMIT'), 'BATON_RUN_RATE_LIMIT', problems),
    loginMaxFailuresPerAccount: positiveInt(raw(env, 'BATON_LOGIN_MAX_FAILURES_PER_ACCOUNT'), 'BATON_LOGIN_MAX_FAILURES_PER_ACCOUNT', problems),
    loginMaxFailuresPerAddress: positiveInt(raw(env, 'BATON_LOGIN_MAX_FAILURES_PER_ADDRESS'), 'BATON_LOGIN_MAX_FAILURES_PER_ADDRESS', problems),
    sseHeartbeatMs: positiveInt(raw(env, 'BATON_SSE_HEARTBEAT_MS'), 'BATON_SSE_HEARTBEAT_MS', problems),
    sseMaxQueue: positiveInt(raw(env, 'BATON_SSE_MAX_QUEUE'), 'BATON_SSE_MAX_QUEUE', problems),
    webhookMaxAttempts: positiveInt(raw(env, 'BATON_WEBHOOK_MAX_ATTEMPTS'), 'BATON_WEBHOOK_MAX_ATTEMPTS', problems),
    webhookTimeoutMs: positiveInt(raw(env, 'BATON_WEBHOOK_TIMEOUT_MS'), 'BATON_WEBHOOK_TIMEOUT_MS', problems),
    webhookRetryDelayMs: positiveInt(raw(env, 'BATON_WEBHOOK_RETRY_DELAY_MS'), 'BATON_WEBHOOK_RETRY_DELAY_MS', problems),
    webhookMaxRetryDelayMs: positiveInt(raw(env, 'BATON_WEBHOOK_MAX_RETRY_DELAY_MS'), 'BATON_WEBHOOK_MAX_RETRY_DELAY_MS', problems),
    webhookConcurrency: positiveInt(raw(env, 'BATON_WEBHOOK_CONCURRENCY'), 'BATON_WEBHOOK_CONCURRENCY', problems),
    webhookSecretKey: raw(env, 'BATON_WEBHOOK_SECRET_KEY'),
    webhookAllowPrivateNetworks: flag(raw(env, 'BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS'), 'BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS', problems),
    agentAllowPrivateNetworks: flag(raw(env, 'BATON_AGENT_ALLOW_PRIVATE_NETWORKS'), 'BATON_AGENT_ALLOW_PRIVATE_NETWORKS', problems),
    llmBaseUrl: raw(env, 'BATON_LLM_BASE_URL'),
    llmPrices: priceTable(raw(env, 'BATON_LLM_PRICES'), 'BATON_LLM_PRICES', problems),
    webhookRetentionDays: positiveInt(raw(env, 'BATON_WEBHOOK_RETENTION_DAYS'), 'BATON_WEBHOOK_RETENTION_DAYS', problems),
    eventRetentionDays: raw(env, 'BATON_EVENT_RETENTION_DAYS') === undefined ? undefined : positiveInt(raw(env, 'BATON_EVENT_RETENTION_DAYS'), 'BATON_EVENT_RETENTION_DAYS', problems),
    conversationIdleMs: positiveInt(raw(env, 'BATON_CONVERSATION_IDLE_MS'), 'BATON_CONVERSATION_IDLE_MS', problems),
    conversationExpireMs: positiveInt(raw(env, 'BATON_CONVERSATION_EXPIRE_MS'), 'BATON_CONVERSATION_EXPIRE_MS', problems),
    conversationSweepMs: positiveInt(raw(env, 'BATON_CONVERSATION_SWEEP_MS'), 'BATON_CONVERSATION_SWEEP_MS', problems),
  };
  if (config.conversationExpireMs <= config.conversationIdleMs)
    problems.push('BATON_CONVERSATION_EXPIRE_MS must be greater than BATON_CONVERSATION_IDLE_MS');
  if (config.jwtSecret !== undefined && config.jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  if (config.webhookSecretKey !== undefined && config.webhookSecretKey.length < 32)
    problems.push('BATON_WEBHOOK_SECRET_KEY must be at least 32 characters');
  if (config.metricsToken !== undefined && config.metricsToken.length < 16) problems.push('BATON_METRICS_TOKEN must be at least 16 characters');
  if (config.otlpEndpoint !== undefined && !/^https?:\/\/\S+$/.test(config.otlpEndpoint))
    problems.push('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Values that must never be printed: used by the logger to scrub messages. */
export function sensitiveValues(env: NodeJS.ProcessEnv = process.env): string[] {
  return CONFIG_VARIABLES.filter((v) => v.sensitive)
    .map((v) => env[v.name])
    .filter((v): v is string => typeof v === 'string' && v.length >= 6);
}
