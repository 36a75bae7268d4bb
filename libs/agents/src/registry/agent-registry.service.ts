/**
 * The agent registry: what admins save (validated per type, secrets refused), what everyone reads (built-ins
 * included), heartbeats, and an agent's health as seen from its recent steps. Writes are audited.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { BUILTIN_AGENT_SLUGS, DomainError, isBuiltinAgent, type AgentType, type JsonObject } from '#core';
import { AgentsRepository, AuditLogRepository, type ActorType, type AgentEntity, type AgentHealth, type AgentWrite } from '#persistence';
import { AgentRunnerRegistry } from '../agent-runner.registry.js';
import { AgentBreakers } from '../breakers/agent-breakers.js';
import { agentDocumentProblems, type AgentDocument } from './agent-document.js';
import { agentStats, recentStep, type AgentStats, type RecentStep } from './agent-health.js';

export interface AgentActor {
  type: ActorType;
  id: string | null;
}

export interface AgentView {
  slug: string;
  name: string;
  description: string | null;
  type: AgentType;
  capabilities: string[];
  config: JsonObject;
  status: 'active' | 'disabled';
  builtin: boolean;
  health: AgentHealth;
  lastHeartbeatAt: string | null;
  breaker: { state: 'closed' | 'open' | 'half_open'; changedAt: string | null };
  createdAt: string | null;
  updatedAt: string | null;
}

export interface AgentDetail extends AgentView {
  functionCode: string | null;
  stats: AgentStats;
  recentSteps: RecentStep[];
}

export type ApplyAction = 'created' | 'updated' | 'unchanged';

const BUILTIN_DESCRIPTIONS: Record<(typeof BUILTIN_AGENT_SLUGS)[number], string> = {
  echo: 'Built-in: answers its input.',
  sleep: 'Built-in: waits input.ms milliseconds (honours cancellation), then answers { sleptMs, echo }.',
  flaky: 'Built-in: fails (retryable, code FLAKY) its first input.failTimes attempts, then answers.',
  fail: 'Built-in: always fails, non-retryable, with input.code (default FAIL) and input.message.',
};

const RECENT_STEPS = 50;
const SHOWN_STEPS = 10;

function builtinView(slug: (typeof BUILTIN_AGENT_SLUGS)[number]): AgentView {
  return {
    slug,
    name: slug,
    description: BUILTIN_DESCRIPTIONS[slug],
    type: 'tool',
    capabilities: [],
    config: {},
    status: 'active',
    builtin: true,
    health: 'healthy',
    lastHeartbeatAt: null,
    breaker: { state: 'closed', changedAt: null },
    createdAt: null,
    updatedAt: null,
  };
}

/** `breakerState`: the state to show (a published open past its cool-down is half-open). */
export function toAgentView(agent: AgentEntity, breakerState: AgentView['breaker']['state'] = agent.breakerState): AgentView {
  return {
    slug: agent.slug,
    name: agent.name,
    description: agent.description,
    type: agent.type,
    capabilities: agent.capabilities,
    config: agent.config as JsonObject,
    status: agent.status,
    builtin: false,
    health: agent.health,
    lastHeartbeatAt: agent.lastHeartbeatAt?.toISOString() ?? null,
    breaker: { state: breakerState, changedAt: agent.breakerChangedAt?.toISOString() ?? null },
    createdAt: agent.createdAt.toISOString(),
    updatedAt: agent.updatedAt.toISOString(),
  };
}

@Injectable()
export class AgentRegistryService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agents: AgentsRepository,
    private readonly audit: AuditLogRepository,
    private readonly runners: AgentRunnerRegistry,
    private readonly breakers: AgentBreakers,
  ) {}

  private view(agent: AgentEntity): AgentView {
    return toAgentView(agent, this.breakers.effectiveState({ state: agent.breakerState, changedAt: agent.breakerChangedAt }));
  }

  /** Stored agents (slug order), then the built-ins that match the filter (they have type tool and no capabilities). */
  async list(organizationId: string, filter: { capability?: string; type?: AgentType } = {}): Promise<AgentView[]> {
    const stored = (await this.agents.list(organizationId, filter.capability, filter.type)).map((a) => this.view(a));
    const shadowed = new Set(stored.map((a) => a.slug));
    const builtins = filter.capability || (filter.type && filter.type !== 'tool') ? [] : BUILTIN_AGENT_SLUGS.filter((s) => !shadowed.has(s)).map(builtinView);
    return [...stored, ...builtins];
  }

  async get(organizationId: string, slug: string): Promise<AgentDetail> {
    const agent = await this.agents.findBySlug(organizationId, slug);
    if (!agent && !isBuiltinAgent(slug)) throw DomainError.notFound('Agent', slug);
    const view = agent ? this.view(agent) : builtinView(slug as (typeof BUILTIN_AGENT_SLUGS)[number]);
    const { steps, running } = await this.agents.recentSteps(organizationId, slug, RECENT_STEPS);
    return {
      ...view,
      functionCode: agent?.functionCode ?? null,
      stats: agentStats(steps, running, { health: view.health, breaker: view.breaker.state, disabled: view.status === 'disabled' }),
      recentSteps: steps.slice(0, SHOWN_STEPS).map(recentStep),
    };
  }

  async create(organizationId: string, document: unknown, actor: AgentActor): Promise<AgentView> {
    const agent = this.checked(document);
    return this.dataSource.transaction(async (manager) => {
      const created = await this.agents.insert(organizationId, agent, manager);
      if (!created) throw DomainError.conflict(`Agent ${agent.slug} already exists (PUT /agents/${agent.slug} changes it)`);
      await this.audit.append(organizationId, auditEntry(actor, 'agent.created', created, { type: agent.type }), manager);
      return this.view(created);
    });
  }

  /** Replaces an agent's definition; `slug` (the path) wins over a slug in the body. */
  async update(organizationId: string, slug: string, document: unknown, actor: AgentActor): Promise<AgentView> {
    const agent = this.checked({ ...(isRecord(document) ? document : {}), slug });
    return this.dataSource.transaction(async (manager) => {
      const updated = await this.agents.replace(organizationId, agent, manager);
      if (!updated) throw DomainError.notFound('Agent', slug);
      await this.audit.append(organizationId, auditEntry(actor, 'agent.updated', updated, { type: agent.type, status: agent.status }), manager);
      return this.view(updated);
    });
  }

  /**
   * Disables an agent (it is kept: past steps name it and a disabled agent fails new steps with AGENT_DISABLED
   * rather than UNKNOWN_AGENT). PUT with `status: active` enables it again.
   */
  async disable(organizationId: string, slug: string, actor: AgentActor): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      if (!(await this.agents.setStatus(organizationId, slug, 'disabled', manager))) throw DomainError.notFound('Agent', slug);
      await this.audit.append(organizationId, { actorType: actor.type, actorId: actor.id, action: 'agent.disabled', targetType: 'agent', targetId: slug }, manager);
    });
  }

  async heartbeat(organizationId: string, slug: string, health: AgentHealth = 'healthy'): Promise<AgentView> {
    const agent = await this.agents.heartbeat(organizationId, slug, health);
    if (!agent) throw DomainError.notFound('Agent', slug);
    return this.view(agent);
  }

  /** Creates the agent, replaces it when it differs, or leaves it (for `agents:apply`, idempotent). */
  async apply(organizationId: string, document: unknown, actor: AgentActor): Promise<{ action: ApplyAction; agent: AgentView }> {
    const agent = this.checked(document);
    const existing = await this.agents.findBySlug(organizationId, agent.slug);
    if (!existing) return { action: 'created', agent: await this.create(organizationId, agent, actor) };
    if (sameDefinition(existing, agent)) return { action: 'unchanged', agent: this.view(existing) };
    return { action: 'updated', agent: await this.update(organizationId, agent.slug, agent, actor) };
  }

  /** The document as stored, or a 400 listing every problem with its JSON path. */
  private checked(document: unknown): AgentWrite {
    const type = isRecord(document) ? document.type : undefined;
    const schema = typeof type === 'string' && this.runners.has(type as AgentType) ? this.runners.forType(type as AgentType).configSchema : undefined;
    const problems = agentDocumentProblems(document, schema);
    if (isRecord(document) && typeof document.slug === 'string' && isBuiltinAgent(document.slug))
      problems.push({ path: '$.slug', message: `"${document.slug}" is a built-in agent`, code: 'builtin_agent' });
    if (problems.length > 0) throw DomainError.validation(`Invalid agent: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
    const d = document as unknown as AgentDocument;
    return {
      slug: d.slug,
      name: d.name,
      description: d.description ?? undefined,
      type: d.type,
      capabilities: d.capabilities ?? [],
      config: d.config ?? {},
      functionCode: d.functionCode ?? null,
      status: d.status ?? 'active',
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function auditEntry(actor: AgentActor, action: string, agent: AgentEntity, details: JsonObject) {
  return { actorType: actor.type, actorId: actor.id, action, targetType: 'agent', targetId: agent.slug, details };
}

function sameDefinition(existing: AgentEntity, next: AgentWrite): boolean {
  return (
    existing.name === next.name &&
    (existing.description ?? null) === (next.description ?? null) &&
    existing.type === next.type &&
    JSON.stringify([...existing.capabilities].sort()) === JSON.stringify([...next.capabilities].sort()) &&
    canonical(existing.config) === canonical(next.config) &&
    (existing.functionCode ?? null) === (next.functionCode ?? null) &&
    existing.status === next.status
  );
}

/** JSON with sorted keys: jsonb does not keep the order the file had. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value);
}
