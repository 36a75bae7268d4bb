import { Inject, Injectable } from '@nestjs/common';
import { In, type DataSource } from 'typeorm';
import type { AgentType, JsonObject } from '#core';
import { DATA_SOURCE } from '../database/database.tokens.js';
import { AgentEntity } from '../entities/agent.entity.js';

export interface AgentSeed {
  slug: string;
  name: string;
  description?: string;
  type: AgentType;
  capabilities: string[];
  config: JsonObject;
  functionCode?: string | null;
}

@Injectable()
export class AgentsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(AgentEntity);
  }

  findBySlug(organizationId: string, slug: string): Promise<AgentEntity | null> {
    return this.repo.findOneBy({ organizationId, slug });
  }

  list(organizationId: string, capability?: string): Promise<AgentEntity[]> {
    const qb = this.repo.createQueryBuilder('a').where('a.organization_id = :organizationId', { organizationId });
    if (capability) qb.andWhere(':capability = ANY(a.capabilities)', { capability });
    return qb.orderBy('a.slug', 'ASC').getMany();
  }

  /** The subset of `slugs` that name an agent of the organization. */
  async existingSlugs(organizationId: string, slugs: string[]): Promise<Set<string>> {
    if (slugs.length === 0) return new Set();
    const rows = await this.repo.find({ select: { slug: true }, where: { organizationId, slug: In(slugs) } });
    return new Set(rows.map((r) => r.slug));
  }

  /** Inserts the agent unless its slug exists in the organization; returns whether it inserted. */
  async insertIfAbsent(organizationId: string, agent: AgentSeed): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO agents (organization_id, slug, name, description, type, capabilities, config, function_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (organization_id, slug) DO NOTHING RETURNING id`,
      [organizationId, agent.slug, agent.name, agent.description ?? null, agent.type, agent.capabilities, agent.config, agent.functionCode ?? null],
    );
    return rows.length > 0;
  }
}
