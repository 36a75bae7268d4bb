import { CONFIG_VARIABLES, type ConfigName } from './config-variables.js';

export type BatonRole = 'all' | 'api' | 'worker';
export type LogLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';

/** Typed configuration, read and validated once. */
export interface AppConfig {
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  pgPort: number;
  role: BatonRole;
  jwtSecret: string | undefined;
  jwtExpiresInSeconds: number;
  adminEmail: string;
  adminPassword: string;
  logLevel: LogLevel;
  autoMigrate: boolean;
  nodeEnv: string;
  workerConcurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  runRateLimit: number;
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
  webhookRetentionDays: number;
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
    adminEmail: raw(env, 'ADMIN_EMAIL') ?? '',
    adminPassword: raw(env, 'ADMIN_PASSWORD') ?? '',
    logLevel: oneOf(raw(env, 'LOG_LEVEL'), ['error', 'warn', 'log', 'debug', 'verbose'] as const, 'LOG_LEVEL', problems),
    autoMigrate: flag(raw(env, 'BATON_AUTO_MIGRATE'), 'BATON_AUTO_MIGRATE', problems),
    nodeEnv: raw(env, 'NODE_ENV') ?? 'development',
    workerConcurrency: positiveInt(raw(env, 'BATON_WORKER_CONCURRENCY'), 'BATON_WORKER_CONCURRENCY', problems),
    leaseMs: positiveInt(raw(env, 'BATON_LEASE_MS'), 'BATON_LEASE_MS', problems),
    pollIntervalMs: positiveInt(raw(env, 'BATON_POLL_INTERVAL_MS'), 'BATON_POLL_INTERVAL_MS', problems),
    runRateLimit: positiveInt(raw(env, 'BATON_RUN_RATE_LIMIT'), 'BATON_RUN_RATE_LIMIT', problems),
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
    webhookRetentionDays: positiveInt(raw(env, 'BATON_WEBHOOK_RETENTION_DAYS'), 'BATON_WEBHOOK_RETENTION_DAYS', problems),
  };
  if (config.jwtSecret !== undefined && config.jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  if (config.webhookSecretKey !== undefined && config.webhookSecretKey.length < 32)
    problems.push('BATON_WEBHOOK_SECRET_KEY must be at least 32 characters');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Values that must never be printed: used by the logger to scrub messages. */
export function sensitiveValues(env: NodeJS.ProcessEnv = process.env): string[] {
  return CONFIG_VARIABLES.filter((v) => v.sensitive)
    .map((v) => env[v.name])
    .filter((v): v is string => typeof v === 'string' && v.length >= 6);
}
