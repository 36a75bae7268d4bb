/**
 * What a claimed group step needs to run, read inside the claim's transaction (under its run's lock): the turns its
 * earlier holders recorded (a group resumed after a crash continues at the next turn, never repeating one), and the
 * agent each participant speaks through (a capability participant goes to the healthiest, least-loaded agent with it,
 * a different one per participant when there are enough).
 */
import { Injectable } from '@nestjs/common';
import { AgentBreakers } from '#agents';
import type { CompiledGroup, GroupTurn } from '../group/group-conversation.js';
import type { Queryable } from '../store/engine-database.js';
import { groupTurnsOf } from '../store/group-turn.repository.js';
import { AgentDirectory, type AgentInfo } from './agent-directory.js';
import { rankedCandidates } from './agent-router.js';
import type { StepFailure } from './step-outcome.js';

export interface GroupSpeaker {
  slug: string;
  agent: AgentInfo | null;
}

/** A group step as its attempt runs it. */
export interface GroupStart {
  group: CompiledGroup;
  /** Participant name -> the agent it speaks through this attempt. */
  speakers: Map<string, GroupSpeaker>;
  selector: GroupSpeaker | null;
  /** Turns already recorded, in order: the attempt starts at the next one. */
  turns: GroupTurn[];
}

export interface GroupClaim {
  stepId: string;
  organizationId: string;
  group: CompiledGroup;
}

@Injectable()
export class GroupPlanner {
  constructor(
    private readonly agents: AgentDirectory,
    private readonly breakers: AgentBreakers,
  ) {}

  /** One entry per claim: its start, or the failure of an attempt that cannot start (a capability nobody offers now). */
  async plan(client: Queryable, claims: GroupClaim[]): Promise<(GroupStart | StepFailure)[]> {
    if (claims.length === 0) return [];
    const recorded = await groupTurnsOf(
      client,
      claims.map((c) => c.stepId),
    );
    const out: (GroupStart | StepFailure)[] = [];
    for (const claim of claims) {
      const { group, organizationId } = claim;
      const slugs = [...group.participants.flatMap((p) => (p.agent ? [p.agent] : [])), ...(group.selector ? [group.selector.agent] : [])];
      const known = await this.agents.lookup(client, organizationId, slugs);
      const speakers = new Map<string, GroupSpeaker>();
      let failure: StepFailure | null = null;
      for (const p of group.participants) {
        if (p.agent) {
          speakers.set(p.name, { slug: p.agent, agent: known.get(p.agent) ?? null });
          continue;
        }
        const capability = p.capability as string;
        const candidates = await rankedCandidates(
          client,
          organizationId,
          { by: { capabilities: [capability] }, exclude: [], routedBy: { capability }, ordered: false },
          (slug, info) => this.breakers.blocks(organizationId, slug, { state: info.breakerState, changedAt: info.breakerChangedAt }),
        );
        const taken = new Set([...speakers.values()].map((s) => s.slug));
        const choice = candidates.find((c) => !taken.has(c.slug)) ?? candidates[0];
        if (!choice) {
          failure = {
            code: 'NO_AGENT_AVAILABLE',
            message: `participant ${p.name}: no active, healthy agent with capability ${capability} (breakers open, unhealthy or none registered)`,
            retryable: true,
          };
          break;
        }
        speakers.set(p.name, { slug: choice.slug, agent: choice.agent });
      }
      const selector = group.selector ? { slug: group.selector.agent, agent: known.get(group.selector.agent) ?? null } : null;
      out.push(failure ?? { group, speakers, selector, turns: recorded.get(claim.stepId) ?? [] });
    }
    return out;
  }
}

export function isGroupStart(value: GroupStart | StepFailure): value is GroupStart {
  return 'speakers' in value;
}
