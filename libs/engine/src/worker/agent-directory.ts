import { Injectable } from '@nestjs/common';
import { isBuiltinAgent, type AgentType } from '#core';
import type { AgentHealth, BreakerState } from '#persistence';
import { agentsBySlug, type AgentRow } from '../store/agent-routing.repository.js';
import type { Queryable } from '../store/engine-database.js';

export interface AgentInfo {
  type: AgentType;
  config: Record<string, unknown>;
  maxConcurrency: number | null;
  status: 'active' | 'disabled';
  capabilities: string[];
  health: AgentHealth;
  breakerState: BreakerState;
  breakerChangedAt: Date | null;
}

const BUILTIN: AgentInfo = {
  type: 'tool',
  config: {},
  maxConcurrency: null,
  status: 'active',
  capabilities: [],
  health: 'healthy',
  breakerState: 'closed',
  breakerChangedAt: null,
};

export function agentInfo(row: AgentRow): AgentInfo {
  const limit = Number(row.config.maxConcurrency);
  return {
    type: row.type,
    config: row.config,
    status: row.status,
    maxConcurrency: Number.isInteger(limit) && limit > 0 ? limit : null,
    capabilities: row.capabilities,
    health: row.health,
    breakerState: row.breaker_state,
    breakerChangedAt: row.breaker_changed_at,
  };
}
const TTL_MS = 5000;

/**
 * Agent type and config by (organization, slug), cached for a few seconds: the claim path asks for them on
 * every batch, and an agent edit taking five seconds to reach workers is acceptable.
 */
@Injectable()
export class AgentDirectory {
  private readonly cache = new Map<string, { info: AgentInfo | null; at: number }>();

  /**
   * `client` is the caller's transaction when there is one: taking a second connection from the pool while holding
   * one deadlocks once every connection of the pool is held by a transaction waiting here.
   */
  async lookup(client: Queryable, organizationId: string, slugs: string[]): Promise<Map<string, AgentInfo | null>> {
    const out = new Map<string, AgentInfo | null>();
    const missing: string[] = [];
    const now = Date.now();
    for (const slug of new Set(slugs)) {
      const hit = this.cache.get(`${organizationId}:${slug}`);
      if (hit && now - hit.at < TTL_MS) out.set(slug, hit.info);
      else missing.push(slug);
    }
    if (missing.length > 0) {
      const found = new Map((await agentsBySlug(client, organizationId, missing)).map((r) => [r.slug, r]));
      for (const slug of missing) {
        const row = found.get(slug);
        const info: AgentInfo | null = row ? agentInfo(row) : isBuiltinAgent(slug) ? BUILTIN : null;
        this.cache.set(`${organizationId}:${slug}`, { info, at: now });
        out.set(slug, info);
      }
    }
    return out;
  }
}
