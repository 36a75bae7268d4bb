/**
 * Every environment variable Baton reads, described once. This list feeds validation at start-up,
 * `.env.example` (kept in sync by a test) and log scrubbing (values of sensitive variables never appear).
 */
export interface ConfigVariable {
  name: string;
  description: string;
  sensitive: boolean;
  default?: string;
}

export const CONFIG_VARIABLES = [
  { name: 'PORT', description: 'HTTP port of the API.', sensitive: false, default: '3000' },
  {
    name: 'DATABASE_URL',
    description: 'PostgreSQL connection string. Unset: an embedded PostgreSQL is started under BATON_DATA_DIR.',
    sensitive: true,
  },
  { name: 'BATON_DATA_DIR', description: 'Where the embedded database and generated secrets live.', sensitive: false, default: '.data' },
  { name: 'BATON_PG_PORT', description: 'Port of the embedded PostgreSQL.', sensitive: false, default: '54329' },
  { name: 'BATON_ROLE', description: 'all | api | worker: which parts of Baton this process runs.', sensitive: false, default: 'all' },
  {
    name: 'JWT_SECRET',
    description: 'Secret signing access tokens. Unset in development: generated once and kept under BATON_DATA_DIR.',
    sensitive: true,
  },
  { name: 'JWT_EXPIRES_IN_SECONDS', description: 'Lifetime of access tokens issued by /auth/login.', sensitive: false, default: '3600' },
  {
    name: 'BATON_AUTH_CACHE_MS',
    description:
      'How long an instance reuses the user or API key row it authenticated a request with. A change made through this instance applies at once; one made through another instance or the CLI within this time. 0: read it on every request.',
    sensitive: false,
    default: '2000',
  },
  {
    name: 'ADMIN_EMAIL',
    description: 'Email of the seeded admin of organization `global` (default is for local development only).',
    sensitive: false,
    default: 'admin@baton.local',
  },
  {
    name: 'ADMIN_PASSWORD',
    description: 'Password of the seeded admin (default `baton-admin` is for local development only).',
    sensitive: true,
    default: 'baton-admin',
  },
  { name: 'LOG_LEVEL', description: 'error | warn | log | debug | verbose.', sensitive: false, default: 'log' },
  {
    name: 'LOG_FORMAT',
    description: 'pretty | json: one JSON object per line (for log shippers) or colored lines for a terminal. Unset: pretty when NODE_ENV is development, json otherwise.',
    sensitive: false,
  },
  {
    name: 'BATON_METRICS_TOKEN',
    description: 'Bearer token Prometheus must send to GET /metrics on the API port. Unset: /metrics answers 404 on the API port (use BATON_METRICS_PORT).',
    sensitive: true,
  },
  {
    name: 'BATON_METRICS_PORT',
    description: 'Port of a separate listener serving GET /metrics without a token (bind it to a private network). Worker-only processes serve their metrics only there. Unset: no such listener.',
    sensitive: false,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    description: 'OTLP/HTTP endpoint of an OpenTelemetry collector (e.g. http://collector:4318). Set: traces and GenAI metrics are exported there. Unset: tracing stays off.',
    sensitive: false,
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    description: 'Headers sent with every OTLP export, `key=value` pairs separated by commas (e.g. the collector or Langfuse credentials).',
    sensitive: true,
  },
  { name: 'OTEL_SERVICE_NAME', description: 'service.name of the exported traces and metrics.', sensitive: false, default: 'baton' },
  {
    name: 'BATON_AUTO_MIGRATE',
    description: 'Apply pending migrations and seeds at start (true for `npm start`; production runs `npm run cli -- db:migrate`).',
    sensitive: false,
    default: 'false',
  },
  {
    name: 'BATON_WORKER_CONCURRENCY',
    description: 'Steps one worker process runs at once (global per-worker limit).',
    sensitive: false,
    default: '100',
  },
  { name: 'BATON_LEASE_MS', description: 'Lease of a claimed step; renewed by heartbeat every third of it, reclaimed by any instance after it.', sensitive: false, default: '15000' },
  { name: 'BATON_BREAKER_FAILURES', description: "Failed calls of one agent within BATON_BREAKER_WINDOW_MS that open its circuit breaker.", sensitive: false, default: '5' },
  { name: 'BATON_BREAKER_WINDOW_MS', description: 'Window in which an agent\'s failures are counted towards opening its breaker.', sensitive: false, default: '60000' },
  { name: 'BATON_BREAKER_COOLDOWN_MS', description: 'How long an open breaker stays open before it half-opens (one trial call closes or reopens it).', sensitive: false, default: '30000' },
  {
    name: 'BATON_DEGRADED_OPEN_BREAKERS',
    description: 'Agents with an open circuit breaker (deployment-wide) from which an instance is degraded: /ready says so and its worker claims fewer steps.',
    sensitive: false,
    default: '3',
  },
  {
    name: 'BATON_DEGRADED_CLAIM_PERCENT',
    description: 'While degraded, the share of BATON_WORKER_CONCURRENCY a worker fills (percent, at least one step).',
    sensitive: false,
    default: '50',
  },
  { name: 'BATON_DB_POOL_SIZE', description: "Connections of the API's pool (REST reads and writes, auth, the event tail, webhooks; docs/deployment.md has the budget).", sensitive: false, default: '10' },
  { name: 'BATON_DB_CONNECT_TIMEOUT_MS', description: 'How long one attempt to open a database connection may take before it fails (no request waits on an unreachable database for longer).', sensitive: false, default: '5000' },
  { name: 'BATON_DB_STARTUP_RETRY_MS', description: 'A starting process retries its first database connection with backoff for this long before it gives up and exits (0: give up at once).', sensitive: false, default: '60000' },
  { name: 'BATON_ENGINE_POOL_SIZE', description: "Connections of the engine's general pool (run starts, decisions, interventions).", sensitive: false, default: '10' },
  { name: 'BATON_WORKER_POOL_SIZE', description: "Connections of the worker's own pool (claims, result lanes, heartbeats, reaper).", sensitive: false, default: '8' },
  { name: 'BATON_CLAIM_BATCH', description: 'Most free slots one claim (or one result lane) fills in a transaction.', sensitive: false, default: '64' },
  { name: 'BATON_EVENTS_NOTIFY_MS', description: 'How often at most a process announces new events to other instances (NOTIFY baton_events; its own streams hear at once): a burst of commits within this window costs one notification.', sensitive: false, default: '10' },
  { name: 'BATON_FLUSH_LANES', description: 'Result lanes per worker: each applies the results of the runs that hash to it.', sensitive: false, default: '2' },
  { name: 'BATON_MAX_ORCHESTRATION_DEPTH', description: 'Deepest nesting of sub-orchestrations: a step that would start a child deeper fails with DEPTH_EXCEEDED.', sensitive: false, default: '5' },
  { name: 'BATON_MAX_FOREACH_ITEMS', description: 'Most items one forEach step fans out to (more fails the step with FOREACH_TOO_LARGE).', sensitive: false, default: '10000' },
  { name: 'BATON_CONTEXT_HISTORY_LIMIT', description: "Messages of a run's conversation (the most recent) that a step's {{ context.history }} template, or a context agent as chat messages, receives.", sensitive: false, default: '20' },
  { name: 'BATON_CONTEXT_HISTORY_TOKENS', description: 'Most tokens (estimated, 4 characters each) of conversation history a context agent receives as chat messages; older messages are dropped first.', sensitive: false, default: '2000' },
  { name: 'BATON_SHUTDOWN_GRACE_MS', description: 'On SIGTERM, how long in-flight steps may finish before they are aborted and released.', sensitive: false, default: '30000' },
  { name: 'BATON_POLL_INTERVAL_MS', description: 'Fallback polling for ready steps when no LISTEN/NOTIFY wake-up arrives.', sensitive: false, default: '1000' },
  {
    name: 'BATON_RUN_RATE_LIMIT',
    description: 'Run creations allowed per organization per minute through the API.',
    sensitive: false,
    default: '600',
  },
  {
    name: 'BATON_LOGIN_MAX_FAILURES_PER_ACCOUNT',
    description: 'Failed logins allowed per email in 15 minutes; then /auth/login answers 429 for it until the window ends.',
    sensitive: false,
    default: '10',
  },
  {
    name: 'BATON_LOGIN_MAX_FAILURES_PER_ADDRESS',
    description: 'Failed logins allowed per client address in 15 minutes (behind a proxy every client shares its address).',
    sensitive: false,
    default: '100',
  },
  {
    name: 'BATON_SSE_HEARTBEAT_MS',
    description: 'Interval of the SSE heartbeat comment (`: ping`) that keeps idle streams open through proxies.',
    sensitive: false,
    default: '15000',
  },
  {
    name: 'BATON_SSE_MAX_QUEUE',
    description: 'Events buffered per SSE client; a client further behind is disconnected and resumes with Last-Event-ID.',
    sensitive: false,
    default: '1000',
  },
  { name: 'BATON_WEBHOOK_MAX_ATTEMPTS', description: 'Delivery attempts of one webhook event before it goes to the dead-letter state.', sensitive: false, default: '12' },
  { name: 'BATON_WEBHOOK_TIMEOUT_MS', description: 'Time a webhook receiver has to answer one delivery attempt.', sensitive: false, default: '10000' },
  {
    name: 'BATON_WEBHOOK_RETRY_DELAY_MS',
    description: 'Delay before the second webhook attempt; doubles with each failure (with jitter) up to BATON_WEBHOOK_MAX_RETRY_DELAY_MS.',
    sensitive: false,
    default: '5000',
  },
  { name: 'BATON_WEBHOOK_MAX_RETRY_DELAY_MS', description: 'Longest delay between two webhook attempts.', sensitive: false, default: '3600000' },
  {
    name: 'BATON_WEBHOOK_ALLOW_PRIVATE_NETWORKS',
    description:
      'Allow webhook URLs that are, or resolve to, loopback, private, link-local (cloud metadata) or other non-public addresses. Off: such a URL is refused when saved and every delivery checks the addresses it connects to (no DNS rebinding). Turn on only for receivers on your own network, or to try webhooks on localhost.',
    sensitive: false,
    default: 'false',
  },
  {
    name: 'BATON_AGENT_ALLOW_PRIVATE_NETWORKS',
    description:
      'Allow agents\' outbound HTTP (api and context agents, A2A agents, fetch in function agents) to reach loopback, private, link-local (cloud metadata) or other non-public addresses. Off: such a request is refused before it connects (addresses are checked when connecting, no DNS rebinding). Turn on only for agents on your own network, or to try agents on localhost.',
    sensitive: false,
    default: 'false',
  },
  {
    name: 'BATON_LLM_BASE_URL',
    description:
      'OpenAI-compatible API (e.g. https://api.openai.com/v1) used by context agents that name no baseUrl. Unset, and with no baseUrl in the agent: context agents answer with the built-in offline provider `local`.',
    sensitive: false,
  },
  {
    name: 'BATON_LLM_PRICES',
    description:
      'JSON price table for LLM cost accounting, USD per million tokens by model, merged over the built-in one: {"my-model":{"inputPerMTok":0.5,"outputPerMTok":1.5}}.',
    sensitive: false,
  },
  {
    name: 'BATON_WEBHOOK_RETENTION_DAYS',
    description: 'Days a finished webhook delivery (delivered or dead) is kept with its attempt log; delivery workers delete older ones every hour.',
    sensitive: false,
    default: '30',
  },
  {
    name: 'BATON_EVENT_RETENTION_DAYS',
    description: "Days the events of a finished run are kept; workers then delete them every hour, keeping the run row and its terminal event (run.completed, run.failed, run.cancelled). Unset: events are kept forever.",
    sensitive: false,
  },
  {
    name: 'BATON_CONVERSATION_IDLE_MS',
    description: 'Inactivity after which a conversation (A2A context) turns from active to idle; a new message makes it active again.',
    sensitive: false,
    default: '1800000',
  },
  {
    name: 'BATON_CONVERSATION_EXPIRE_MS',
    description: 'Inactivity after which a conversation expires: its history and agent state are deleted and its contextId accepts no more messages. Must exceed BATON_CONVERSATION_IDLE_MS.',
    sensitive: false,
    default: '604800000',
  },
  {
    name: 'BATON_CONVERSATION_SWEEP_MS',
    description: 'Interval of the conversation job: records the answers of tasks that finished or paused into their context history, then turns inactive conversations idle or expired.',
    sensitive: false,
    default: '5000',
  },
  { name: 'BATON_WEBHOOK_CONCURRENCY', description: 'Webhook deliveries one worker process sends at once.', sensitive: false, default: '16' },
  {
    name: 'BATON_WEBHOOK_SECRET_KEY',
    description: 'Key that encrypts webhook signing secrets at rest. Unset: derived from the JWT secret (set it in production, so rotating JWT_SECRET keeps webhooks working).',
    sensitive: true,
  },
  { name: 'NODE_ENV', description: 'development | test | production. `db:reset` refuses in production.', sensitive: false, default: 'development' },
] as const satisfies readonly ConfigVariable[];

export type ConfigName = (typeof CONFIG_VARIABLES)[number]['name'];
