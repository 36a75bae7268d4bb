/** The API's resources as the dashboard reads them (see /docs-json for the full schemas). */
export type RunStatus = 'pending' | 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
export type StepStatus =
  | 'pending'
  | 'ready'
  | 'running'
  | 'completed'
  | 'failed'
  | 'skipped'
  | 'cancelled'
  | 'awaiting_approval'
  | 'waiting'
  | 'compensating'
  | 'compensated';

export const RUN_STATUSES: RunStatus[] = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'];
export const TERMINAL_RUN: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Step {
  key: string;
  status: StepStatus;
  type: string;
  agent: string | null;
  dependsOn: string[];
  attempt: number;
  maxAttempts: number;
  nextAttemptAt: string | null;
  input: unknown;
  output: unknown;
  error: unknown;
  startedAt: string | null;
  completedAt: string | null;
  /** Tokens and cost of the completing attempt (LLM agents), null otherwise. */
  usage?: Usage | null;
  /** Sub-orchestration steps: the child runs of the current attempt. */
  children?: ChildCounts;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  costUsd?: number;
  model?: string;
  provider?: string;
}

export interface ChildCounts {
  total: number;
  started: number;
  finished: number;
}

/** A child run of a sub-orchestration step, as GET /orchestrations/runs/:id lists it under `children`. */
export interface ChildRun {
  id: string;
  definition: string;
  version: number;
  status: RunStatus;
  /** The parent step that started it, that step's attempt, and its forEach item (null: not a forEach). */
  stepKey: string | null;
  attempt: number | null;
  index: number | null;
  percent: number;
  createdAt: string;
  completedAt: string | null;
}

export interface Run {
  id: string;
  definition: string;
  version: number;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: unknown;
  priority: number;
  idempotencyKey: string | null;
  parentRunId: string | null;
  parentStepId?: string | null;
  depth?: number;
  /** LLM usage of the run so far. */
  usage?: Usage;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  steps?: Step[];
  /** On GET /orchestrations/runs/:id of a run with sub-orchestration steps. */
  children?: ChildRun[];
}

export interface RunStatusSummary {
  runId: string;
  status: RunStatus;
  total: number;
  counts: Record<string, number>;
  percent: number;
  runningSteps: string[];
  awaitingApproval: string[];
}

export interface BatonEvent {
  id: string;
  runId: string;
  seq: number;
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown> | null;
  createdAt: string;
}

export interface Approval {
  id: string;
  runId: string;
  definition: string;
  stepKey: string;
  status: 'pending' | 'resolved' | 'expired';
  decision: string | null;
  prompt: string;
  payload: unknown;
  decisions: string[];
  roles: string[];
  assignees: string[];
  quorum: number;
  onTimeout: string;
  modifications: unknown;
  comment: string | null;
  requestedAt: string;
  expiresAt: string | null;
  decidedAt: string | null;
  decidedBy: string | null;
}

export interface DiffOp {
  op: string;
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface DecisionRecord {
  id: string;
  decision: string;
  actorType: string;
  decidedByEmail: string | null;
  decidedBy: string | null;
  modifications: unknown;
  modificationsDiff: DiffOp[] | unknown;
  payloadSeen: unknown;
  comment: string | null;
  reason: string;
  createdAt: string;
}

export interface ApprovalDetail extends Approval {
  history: DecisionRecord[];
}

export interface DefinitionSummary {
  id: string;
  slug: string;
  version: number;
  name: string;
  description: string | null;
  status: 'draft' | 'active' | 'archived';
  createdBy: string | null;
  createdAt: string;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  description?: string;
  default?: unknown;
  title?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
}

export interface DefinitionStepSpec {
  key: string;
  agent?: string;
  type?: string;
  dependsOn?: string[];
  approval?: { prompt?: string; modificationsSchema?: JsonSchema };
  orchestration?: string;
}

export interface Definition extends DefinitionSummary {
  spec: { slug: string; name: string; input?: JsonSchema; steps: DefinitionStepSpec[] } & Record<string, unknown>;
}

export interface Problem {
  path: string;
  message: string;
  code?: string;
}

export interface ValidationReport {
  valid: boolean;
  problems: Problem[];
}

export interface DefinitionDiff {
  [key: string]: unknown;
}

export interface Webhook {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  active: boolean;
  createdAt: string;
}

export interface DeliveryAttempt {
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  at: string;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivering' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  deadAt: string | null;
  createdAt: string;
  attemptLog: DeliveryAttempt[];
}

/** GET /agents (a page of these) and GET /agents/:slug (AgentDetail). */
export interface Agent {
  slug: string;
  name: string;
  description: string | null;
  type: string;
  capabilities: string[];
  status: 'active' | 'disabled';
  builtin: boolean;
  /** As last reported by a heartbeat (unknown: never). */
  health: 'unknown' | 'healthy' | 'degraded' | 'unhealthy';
  lastHeartbeatAt: string | null;
  breaker: { state: 'closed' | 'open' | 'half_open'; changedAt: string | null };
}

export interface AgentStats {
  sampleSize: number;
  errorRate: number | null;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
  running: number;
  healthScore: number;
}

export interface AgentRecentStep {
  runId: string;
  stepKey: string;
  status: string;
  attempt: number;
  errorCode: string | null;
  latencyMs: number | null;
  completedAt: string;
}

export interface AgentDetail extends Agent {
  stats: AgentStats;
  recentSteps: AgentRecentStep[];
}
