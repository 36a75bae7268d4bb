import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type EntityManager, type Repository } from 'typeorm';
import type { AgentType, JsonObject } from '#core';
import { AgentEntity, type AgentHealth } from '../entities/agent.entity.js';
import { updateReturning } from './update-returning.js';

export interface AgentSeed {
  slug: string;
  name: string;
  description?: string;
  type: AgentType;
  capabilities: string[];
  config: JsonObject;
  functionCode?: string | null;
}

/** What an admin writes about an agent (REST or `agents:apply`). */
export interface AgentWrite extends AgentSeed {
  status: 'active' | 'disabled';
}

export interface AgentStepRow {
  run_id: string;
  step_key: string;
  status: string;
  attempt: number;
  error_code: string | null;
  started_at: Date | null;
  completed_at: Date;
}

@Injectable()
export class AgentsRepository {
  constructor(@InjectRepository(AgentEntity) private readonly repo: Repository<AgentEntity>) {}

  findBySlug(organizationId: string, slug: string): Promise<AgentEntity | null> {
    return this.repo.findOneBy({ organizationId, slug });
  }

  list(organizationId: string, capability?: string, type?: AgentType): Promise<AgentEntity[]> {
    const qb = this.repo.createQueryBuilder('a').where('a.organization_id = :organizationId', { organizationId });
    // `@>` (not `= ANY`) so the GIN index on capabilities serves the lookup
    if (capability) qb.andWhere('a.capabilities @> ARRAY[:capability]::text[]', { capability });
    if (type) qb.andWhere('a.type = :type', { type });
    return qb.orderBy('a.slug', 'ASC').getMany();
  }

  /** Inserts a new agent; null when the slug is taken in the organization. */
  async insert(organizationId: string, agent: AgentWrite, manager: EntityManager = this.repo.manager): Promise<AgentEntity | null> {
    const rows: { id: string }[] = await manager.query(
      `INSERT INTO agents (organization_id, slug, name, description, type, capabilities, config, function_code, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (organization_id, slug) DO NOTHING RETURNING id`,
      [organizationId, agent.slug, agent.name, agent.description ?? null, agent.type, agent.capabilities, agent.config, agent.functionCode ?? null, agent.status],
    );
    return rows.length > 0 ? manager.getRepository(AgentEntity).findOneBy({ organizationId, id: rows[0].id }) : null;
  }

  /** Replaces what an admin writes (not health or breaker state); null when there is no such agent. */
  async replace(organizationId: string, agent: AgentWrite, manager: EntityManager = this.repo.manager): Promise<AgentEntity | null> {
    const rows = await updateReturning<{ id: string }>(
      manager,
      `UPDATE agents SET name = $3, description = $4, type = $5, capabilities = $6, config = $7, function_code = $8, status = $9, updated_at = now()
        WHERE organization_id = $1 AND slug = $2 RETURNING id`,
      [organizationId, agent.slug, agent.name, agent.description ?? null, agent.type, agent.capabilities, agent.config, agent.functionCode ?? null, agent.status],
    );
    return rows.length > 0 ? manager.getRepository(AgentEntity).findOneBy({ organizationId, id: rows[0].id }) : null;
  }

  async setStatus(organizationId: string, slug: string, status: AgentWrite['status'], manager: EntityManager = this.repo.manager): Promise<boolean> {
    const rows = await updateReturning<{ id: string }>(
      manager,
      `UPDATE agents SET status = $3, updated_at = now() WHERE organization_id = $1 AND slug = $2 RETURNING id`,
      [organizationId, slug, status],
    );
    return rows.length > 0;
  }

  /** Records a heartbeat: the agent is alive now, in the health it reports. */
  async heartbeat(organizationId: string, slug: string, health: AgentHealth): Promise<AgentEntity | null> {
    const rows = await updateReturning<{ id: string }>(
      this.repo.manager,
      `UPDATE agents SET last_heartbeat_at = now(), health = $3 WHERE organization_id = $1 AND slug = $2 RETURNING id`,
      [organizationId, slug, health],
    );
    return rows.length > 0 ? this.repo.findOneBy({ organizationId, id: rows[0].id }) : null;
  }

  /**
   * The agent's most recently finished steps, newest first (one range scan of orchestration_steps_agent_recent_idx),
   * and how many of its steps are running now (orchestration_steps_running_agent_idx).
   */
  async recentSteps(organizationId: string, slug: string, limit: number): Promise<{ steps: AgentStepRow[]; running: number }> {
    const [steps, running] = await Promise.all([
      this.repo.manager.query(
        `SELECT run_id, step_key, status, attempt, error->>'code' AS error_code, started_at, completed_at
           FROM orchestration_steps
          WHERE organization_id = $1 AND agent_slug = $2 AND completed_at IS NOT NULL
          ORDER BY completed_at DESC LIMIT $3`,
        [organizationId, slug, limit],
      ) as Promise<AgentStepRow[]>,
      this.repo.manager.query(
        `SELECT count(*)::int AS n FROM orchestration_steps WHERE organization_id = $1 AND agent_slug = $2 AND status = 'running'`,
        [organizationId, slug],
      ) as Promise<{ n: number }[]>,
    ]);
    return { steps, running: running[0]?.n ?? 0 };
  }

  /** The subset of `slugs` that name an agent of the organization. */
  async existingSlugs(organizationId: string, slugs: string[]): Promise<Set<string>> {
    if (slugs.length === 0) return new Set();
    const rows = await this.repo.find({ select: { slug: true }, where: { organizationId, slug: In(slugs) } });
    return new Set(rows.map((r) => r.slug));
  }

  /** The subset of `capabilities` that some active agent of the organization has. */
  async offeredCapabilities(organizationId: string, capabilities: string[]): Promise<Set<string>> {
    if (capabilities.length === 0) return new Set();
    const rows: { capability: string }[] = await this.repo.manager.query(
      `SELECT DISTINCT c AS capability FROM agents a, unnest(a.capabilities) c
        WHERE a.organization_id = $1 AND a.status = 'active' AND a.capabilities && $2::text[] AND c = ANY($2::text[])`,
      [organizationId, capabilities],
    );
    return new Set(rows.map((r) => r.capability));
  }

  /** Inserts the agent unless its slug exists in the organization; returns whether it inserted. */
  async insertIfAbsent(organizationId: string, agent: AgentSeed): Promise<boolean> {
    const rows: unknown[] = await this.repo.manager.query(
      `INSERT INTO agents (organization_id, slug, name, description, type, capabilities, config, function_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (organization_id, slug) DO NOTHING RETURNING id`,
      [organizationId, agent.slug, agent.name, agent.description ?? null, agent.type, agent.capabilities, agent.config, agent.functionCode ?? null],
    );
    return rows.length > 0;
  }
}
