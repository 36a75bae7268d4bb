/**
 * Claims a batch of ready steps in one transaction: lock the candidate runs (SKIP LOCKED, so instances
 * spread over runs instead of queueing), respect per-run `concurrency` and per-agent `maxConcurrency`,
 * render each step's input from upstream outputs, mark the steps running under this worker's lease, and
 * append their `step.started` events.
 */
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { AgentBreakers, type HistoryMessage } from '#agents';
import { faultPoint, renderTemplate, TemplateError, type JsonObject, type JsonValue, type TemplateContext } from '#core';
import { DefinitionCache, stepOf } from '../compiled-definition.js';
import { commitWith, EngineDatabase, together, type Queryable } from '../store/engine-database.js';
import { appendEvents, type NewEvent } from '../store/event-log.repository.js';
import { notify } from '../store/step-transition.repository.js';
import { WORK_CHANNEL } from '#events';
import {
  findReadyCandidates,
  lockAndCountAgent,
  lockRunsForClaim,
  readySteps,
  runningCountsByRun,
  startSteps,
  upstreamOutputs,
  agentUsageInRuns,
  type ClaimableStep,
  type LockedRun,
} from '../store/step-claim.repository.js';
import { startWaitingSteps, type WaitingStart } from '../store/child-run.repository.js';
import { contextHistories, historyKey, type HistoryWanted } from '../store/context-history.repository.js';
import { AgentDirectory, type AgentInfo } from './agent-directory.js';
import { rankedCandidates, routeRequest } from './agent-router.js';
import { agentLimits, breach, budgetOutcome } from './budget-guard.js';
import { ChildSpawner, spawnsChildren, type ChildPlan, type SpawnedChildren } from './child-spawner.js';
import { cachedOutput, lookupCached, type CacheLookup } from '../store/step-cache.repository.js';
import { GroupPlanner, isGroupStart, type GroupStart } from './group-planner.js';
import type { CacheEntryKey, StepFailure, StepOutcome } from './step-outcome.js';

/**
 * Outputs the calling transaction has just written (run id -> step key -> output): a claim in the same transaction
 * renders its templates from these instead of reading them back.
 */
export type KnownOutputs = Map<string, Map<string, JsonValue>>;

export interface ClaimedStep {
  id: string;
  runId: string;
  organizationId: string;
  definitionId: string;
  stepKey: string;
  /** agent | orchestration | approval (a gate: it calls nothing and waits for a decision). */
  stepType: string;
  agentSlug: string;
  agent: AgentInfo | null;
  attempt: number;
  timeoutMs: number | null;
  input: JsonValue;
  /** Set when the input could not be rendered: the step fails at once, without calling its agent. */
  inputError: string | null;
  /** Steps that list this one in dependsOn: the most its completion can release (slots to lend its result batch). */
  dependents: number;
  /** Why `agentSlug` was chosen, when the step was routed (capability, or a fallback from an open breaker). */
  routedBy?: JsonObject;
  /**
   * The attempt's outcome, decided at its claim: routing found no usable agent (a retryable failure), a
   * sub-orchestration that cannot start, an empty forEach, a budget reached. The step then calls nothing.
   */
  immediate?: StepOutcome;
  /** Its run's parent run (a child run's end locks it), or null for a root run, with no parent to reach when it ends. */
  parentRunId: string | null;
  /** A group step: its participants' agents and the turns recorded so far (see group-planner.ts). */
  group?: GroupStart;
  /** The run's conversation before this run, for a context agent (or a group with one) to receive as chat messages. */
  history?: HistoryMessage[];
  /** The step caches its output and found no live entry: its completion is stored under this key. */
  cache?: CacheEntryKey;
}

interface Choice {
  step: ClaimableStep;
  agent: AgentInfo | null;
  /** The agent it was routed to, and why (absent: its own agent). */
  routed?: { slug: string; routedBy: JsonObject };
  routeError?: StepFailure;
}

@Injectable()
export class StepClaimer {
  constructor(
    private readonly db: EngineDatabase,
    private readonly definitions: DefinitionCache,
    private readonly agents: AgentDirectory,
    private readonly breakers: AgentBreakers,
    private readonly spawner: ChildSpawner,
    private readonly groups: GroupPlanner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async claim(workerId: string, limit: number, leaseMs: number): Promise<ClaimedStep[]> {
    return (await this.claimReady(workerId, limit, leaseMs)).claimed;
  }

  /**
   * Claims up to `limit` due ready steps. `passedOver`: ready steps were seen that this claim did not take (their runs
   * were locked by another transaction, or a limit held them back), so the caller should look again soon.
   */
  async claimReady(workerId: string, limit: number, leaseMs: number): Promise<{ claimed: ClaimedStep[]; passedOver: boolean }> {
    if (limit <= 0) return { claimed: [], passedOver: false };
    const candidates = await findReadyCandidates(this.db.workerPool, limit * 4);
    if (candidates.length === 0) return { claimed: [], passedOver: false };
    return this.db.tx(
      (client) => this.claimIn(client, workerId, limit, leaseMs, [...new Set(candidates.map((c) => c.run_id))], runsToFill(candidates, limit)),
      this.db.workerPool,
    );
  }

  private async claimIn(
    client: Queryable,
    workerId: string,
    limit: number,
    leaseMs: number,
    runIds: string[],
    most: number,
  ): Promise<{ claimed: ClaimedStep[]; passedOver: boolean }> {
    // One round trip: the server reads the ready steps after taking the run locks it could (a pipeline runs in
    // order); steps of runs another instance holds (skipped), or that this claim did not need, are dropped here, unused.
    const [locked, candidates] = await together([lockRunsForClaim(client, runIds, most), readySteps(client, runIds)]);
    const fault = faultPoint('engine.claim.afterCandidates', client);
    if (fault) await fault;
    const runs = new Map(locked.map((r) => [r.id, r]));
    if (runs.size === 0) return { claimed: [], passedOver: candidates.length > 0 };
    const events: NewEvent[] = [];
    const ready = candidates.filter((s) => runs.has(s.run_id));
    const { claimed, applied } = await this.claimLocked(client, workerId, limit, leaseMs, runs, ready, events);
    commitWith(client, applied, appendEvents(client, events));
    return { claimed, passedOver: claimed.length < candidates.length };
  }

  /**
   * Starts up to `limit` of `ready` (steps of `runs`, whose row locks the caller holds) under this worker's
   * lease, pushing their `step.started` events onto `events` for the caller to append. Also used by the result
   * applier and by decisions to hand released steps straight to the calling worker (no second transaction).
   *
   * The start is sent but not awaited, so the caller sends its event append right behind it and hands both to
   * commitWith: `applied` resolves once the steps are running and rejects, rolling the transaction back, if any did
   * not start, which the run locks make impossible. The events carry the attempt the start sets (the row's + 1).
   */
  async claimLocked(
    client: Queryable,
    workerId: string,
    limit: number,
    leaseMs: number,
    runs: Map<string, LockedRun>,
    ready: ClaimableStep[],
    events: NewEvent[],
    known?: KnownOutputs,
  ): Promise<{ claimed: ClaimedStep[]; applied: Promise<void> }> {
    const chosen = ready.length === 0 ? [] : await this.choose(client, runs, ready, limit);
    if (chosen.length === 0) return { claimed: [], applied: Promise.resolve() };
    const rendered = await this.renderInputs(client, runs, chosen, known);
    const plans = await this.planChildren(client, runs, chosen, rendered);
    const caching = await this.reuseCached(client, runs, chosen, rendered, plans);
    await this.checkBudgets(client, runs, chosen, rendered, plans);
    const groups = await this.planGroups(client, runs, chosen, rendered, plans);
    const chats = await this.chatHistories(client, runs, chosen, plans, groups);
    const waiting = chosen.flatMap((c, i) => (plans[i]?.kind === 'spawn' ? [i] : []));
    const executing = chosen.flatMap((c, i) => (plans[i]?.kind === 'spawn' ? [] : [i]));
    const ids = executing.map((i) => chosen[i].step.id);
    const applied = startSteps(
      client,
      workerId,
      leaseMs,
      ids,
      executing.map((i) => rendered[i].input),
      executing.map((i) => chosen[i].routed?.slug ?? null),
      executing.map((i) => chosen[i].step.uncounted),
    ).then((started) => {
      if (started.length !== ids.length)
        throw new Error(`claim invariant broken: ${ids.length - started.length} of ${ids.length} chosen steps did not start`);
    });
    const children = await this.startWaiting(
      client,
      runs,
      waiting.map((i) => ({ step: chosen[i].step, plan: plans[i] as SpawnChoice })),
      events,
    );
    const claimed = executing.map((i): ClaimedStep => {
      const { step, agent, routed, routeError } = chosen[i];
      const run = runs.get(step.run_id) as LockedRun;
      const attempt = step.attempt + 1;
      const plan = plans[i];
      const cache = caching[i];
      events.push({
        runId: run.id,
        organizationId: run.organization_id,
        type: 'step.started',
        stepKey: step.step_key,
        payload: {
          attempt,
          worker: workerId,
          ...(routed ? { agent: routed.slug, routedBy: routed.routedBy } : {}),
          ...(cache ? { cache: cache.hit ? 'hit' : 'miss' } : {}),
        },
      });
      return {
        id: step.id,
        runId: run.id,
        organizationId: run.organization_id,
        definitionId: run.definition_id,
        stepKey: step.step_key,
        stepType: step.type,
        parentRunId: run.parent_run_id,
        agentSlug: routed?.slug ?? step.agent_slug ?? '',
        agent,
        ...(routed ? { routedBy: routed.routedBy } : {}),
        ...(plan?.kind === 'immediate'
          ? { immediate: plan.outcome }
          : routeError
            ? { immediate: { kind: 'failed', error: routeError } }
            : {}),
        attempt,
        timeoutMs: rendered[i].timeoutMs,
        dependents: rendered[i].dependents,
        input: rendered[i].input,
        inputError: rendered[i].error,
        ...(groups.has(i) ? { group: groups.get(i) } : {}),
        ...(chats.has(i) ? { history: chats.get(i) } : {}),
        ...(cache && !cache.hit ? { cache: cache.entry } : {}),
      };
    });
    // New child runs' first steps take the slots a sub-orchestration step did not use, in this same transaction.
    const sub = await this.startChildren(client, workerId, limit - claimed.length, leaseMs, children, events);
    return { claimed: [...claimed, ...sub.claimed], applied: together([applied, sub.applied]).then(() => undefined) };
  }

  /**
   * Starts the first steps of child runs the caller's transaction just created, up to `room` of them, under this
   * worker's lease (see claimLocked), and asks for a worker to be woken for the rest. Used by the claims that start a
   * sub-orchestration step and by the settlements that start its next children.
   */
  async startChildren(
    client: Queryable,
    workerId: string,
    room: number,
    leaseMs: number,
    children: SpawnedChildren,
    events: NewEvent[],
  ): Promise<{ claimed: ClaimedStep[]; applied: Promise<void> }> {
    const sub =
      room > 0 && children.ready.length > 0
        ? await this.claimLocked(client, workerId, room, leaseMs, children.runs, children.ready, events)
        : { claimed: [], applied: Promise.resolve() };
    if (children.ready.length > sub.claimed.length) await notify(client, WORK_CHANNEL);
    return sub;
  }

  /** The children plan of each chosen sub-orchestration step whose input rendered (undefined for the others). */
  private async planChildren(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: Choice[],
    rendered: Rendered[],
  ): Promise<(ChildPlan | undefined)[]> {
    const plans: (ChildPlan | undefined)[] = [];
    for (const [i, { step, agent, routeError }] of chosen.entries()) {
      if (!spawnsChildren(step.type, agent) || routeError || rendered[i].error !== null) {
        plans.push(undefined);
        continue;
      }
      const run = runs.get(step.run_id) as LockedRun;
      const spec = stepOf(await this.definitions.get(run.definition_id), step.step_key)?.spec;
      plans.push(
        spec
          ? await this.spawner.plan(client, run.organization_id, run.depth, spec, agent, rendered[i].input, rendered[i].context)
          : undefined,
      );
    }
    return plans;
  }

  /**
   * Step output caching (`cache:`, see store/step-cache.repository.ts): for each chosen step that caches and would call
   * its agent, looks its rendered key up (one statement for the batch); a live entry becomes the attempt's outcome
   * (completed, `cached: true`), so the agent is not called and no budget is spent. Returns, per chosen step, whether
   * it caches and hit (undefined: it does not cache, or its input was edited by an operator, or it will not call its
   * agent: a sub-orchestration, a failure decided at the claim, a disabled agent).
   */
  private async reuseCached(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: Choice[],
    rendered: Rendered[],
    plans: (ChildPlan | undefined)[],
  ): Promise<({ hit: boolean; entry: CacheEntryKey } | undefined)[]> {
    const out: ({ hit: boolean; entry: CacheEntryKey } | undefined)[] = chosen.map(() => undefined);
    const lookups: { index: number; lookup: CacheLookup; ttlMs: number }[] = [];
    for (const [i, { step, agent, routed, routeError }] of chosen.entries()) {
      const key = rendered[i].cacheKey;
      // A disabled agent's step fails as it would without a cache (AGENT_DISABLED), rather than live on old answers.
      if (key === null || plans[i] || routeError || rendered[i].error !== null || step.type !== 'agent' || agent?.status === 'disabled')
        continue;
      const run = runs.get(step.run_id) as LockedRun;
      const ttlMs = stepOf(await this.definitions.get(run.definition_id), step.step_key)?.spec.cache?.ttlMs;
      if (!ttlMs) continue;
      lookups.push({
        index: i,
        ttlMs,
        lookup: { organizationId: run.organization_id, agentSlug: routed?.slug ?? step.agent_slug ?? '', key },
      });
    }
    if (lookups.length === 0) return out;
    const found = await lookupCached(
      client,
      lookups.map((l) => l.lookup),
    );
    for (const { index, lookup, ttlMs } of lookups) {
      const output = cachedOutput(found, lookup);
      if (output !== undefined) plans[index] = { kind: 'immediate', outcome: { kind: 'completed', output, cached: true } };
      out[index] = { hit: output !== undefined, entry: { agentSlug: lookup.agentSlug, key: lookup.key, ttlMs } };
    }
    return out;
  }

  /**
   * Budgets (see budget-guard.ts): a step whose run, or whose agent within the run, has reached a limit gets the
   * attempt's outcome now instead of calling its agent.
   */
  private async checkBudgets(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: Choice[],
    rendered: Rendered[],
    plans: (ChildPlan | undefined)[],
  ): Promise<void> {
    const agentUsage = new Map<string, Map<string, { tokens: number; costUsd: number }>>();
    for (const [i, { step, agent, routed, routeError }] of chosen.entries()) {
      if (plans[i] || routeError || rendered[i].error !== null || step.type === 'approval' || step.type === 'orchestration') continue;
      const run = runs.get(step.run_id) as LockedRun;
      const spent = { tokens: Number(run.usage_total_tokens ?? 0), costUsd: Number(run.usage_cost_usd ?? 0) };
      const own = breach(run.budget, spent);
      if (own) {
        plans[i] = {
          kind: 'immediate',
          outcome: budgetOutcome({ budgetExceeded: true, scope: 'run', agent: null, ...own }, run.budget?.onExceeded),
        };
        continue;
      }
      const slug = routed?.slug ?? step.agent_slug ?? '';
      const limits = agentLimits(run.budget, slug, agent?.config);
      if (!limits) continue;
      if (!agentUsage.has(slug)) {
        const ids = chosen.filter((c) => (c.routed?.slug ?? c.step.agent_slug) === slug).map((c) => c.step.run_id);
        agentUsage.set(slug, await agentUsageInRuns(client, [...new Set(ids)], slug));
      }
      const used = agentUsage.get(slug)?.get(run.id) ?? { tokens: 0, costUsd: 0 };
      const reached = breach(limits, used);
      if (reached)
        plans[i] = {
          kind: 'immediate',
          outcome: budgetOutcome({ budgetExceeded: true, scope: 'agent', agent: slug, ...reached }, limits.onExceeded),
        };
    }
  }

  /**
   * Group steps about to run (their input rendered, nothing decided at the claim): the turns recorded so far and their
   * participants' agents, by chosen index. A group that cannot start (a capability nobody offers) fails its attempt.
   */
  private async planGroups(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: Choice[],
    rendered: Rendered[],
    plans: (ChildPlan | undefined)[],
  ): Promise<Map<number, GroupStart>> {
    const claims = [];
    for (const [i, { step }] of chosen.entries()) {
      if (step.type !== 'group' || plans[i] || rendered[i].error !== null) continue;
      const run = runs.get(step.run_id) as LockedRun;
      const group = stepOf(await this.definitions.get(run.definition_id), step.step_key)?.group;
      if (group) claims.push({ index: i, stepId: step.id, organizationId: run.organization_id, group });
    }
    const starts = await this.groups.plan(client, claims);
    const out = new Map<number, GroupStart>();
    claims.forEach(({ index }, k) => {
      const start = starts[k];
      if (isGroupStart(start)) out.set(index, start);
      else plans[index] = { kind: 'immediate', outcome: { kind: 'failed', error: start } };
    });
    return out;
  }

  /**
   * For the chosen steps of runs in a conversation that call a context agent (a group: any participant or its
   * selector), the conversation's last BATON_CONTEXT_HISTORY_LIMIT messages before the run, by chosen index (one query).
   */
  private async chatHistories(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: Choice[],
    plans: (ChildPlan | undefined)[],
    groups: Map<number, GroupStart>,
  ): Promise<Map<number, HistoryMessage[]>> {
    const wanting: { index: number; wanted: HistoryWanted }[] = [];
    for (const [i, { step, agent }] of chosen.entries()) {
      const run = runs.get(step.run_id) as LockedRun;
      if (!run.context_id || plans[i]) continue;
      const group = groups.get(i);
      const agents = group ? [...group.speakers.values(), ...(group.selector ? [group.selector] : [])].map((s) => s.agent) : [agent];
      if (agents.some((a) => a?.type === 'context'))
        wanting.push({ index: i, wanted: { organizationId: run.organization_id, contextId: run.context_id, excludeRunId: run.id } });
    }
    const found = await contextHistories(
      client,
      wanting.map((w) => w.wanted),
      this.config.contextHistoryLimit,
    );
    return new Map(
      wanting.map(({ index, wanted }) => [
        index,
        (found.get(historyKey(wanted.organizationId, wanted.contextId, wanted.excludeRunId)) ?? []).map((entry): HistoryMessage => ({
          role: entry.role === 'agent' ? 'agent' : 'user',
          text: entry.text || dataText(entry.parts),
        })),
      ]),
    );
  }

  /** Leaves sub-orchestration steps waiting and creates their first children (up to each one's concurrency). */
  private async startWaiting(
    client: Queryable,
    runs: Map<string, LockedRun>,
    starting: { step: ClaimableStep; plan: SpawnChoice }[],
    events: NewEvent[],
  ): Promise<SpawnedChildren> {
    const children: SpawnedChildren = { runs: new Map(), ready: [] };
    if (starting.length === 0) return children;
    const starts: WaitingStart[] = starting.map(({ step, plan }) => ({
      id: step.id,
      input: plan.plan.forEach ? plan.inputs : plan.inputs[0],
      spawn: plan.plan,
      total: plan.inputs.length,
      started: plan.plan.concurrency,
      uncounted: step.uncounted,
    }));
    const started = await startWaitingSteps(client, starts);
    if (started.length !== starts.length)
      throw new Error(`claim invariant broken: ${starts.length - started.length} sub-orchestration steps did not start`);
    for (const { step, plan } of starting) {
      const run = runs.get(step.run_id) as LockedRun;
      const attempt = step.attempt + 1;
      const base = { runId: run.id, organizationId: run.organization_id, stepKey: step.step_key };
      events.push(
        { ...base, type: 'step.started', payload: { attempt } },
        {
          ...base,
          type: 'step.waiting',
          payload: {
            attempt,
            orchestration: plan.plan.slug,
            version: plan.plan.version,
            children: plan.inputs.length,
            concurrency: plan.plan.concurrency,
          },
        },
      );
      const parent = {
        runId: run.id,
        organizationId: run.organization_id,
        depth: run.depth,
        contextId: run.context_id,
        stepId: step.id,
        stepKey: step.step_key,
        attempt,
      };
      const spawned = await this.spawner.spawn(client, parent, plan.plan, plan.inputs, [...Array(plan.plan.concurrency).keys()], events);
      for (const [id, run] of spawned.runs) children.runs.set(id, run);
      children.ready.push(...spawned.ready);
    }
    return children;
  }

  /** Picks steps within the worker's, each run's and each agent's limits, in priority order. */
  private async choose(client: Queryable, runs: Map<string, LockedRun>, ready: ClaimableStep[], limit: number): Promise<Choice[]> {
    const limitedRuns = [...runs.values()].filter((r) => r.max_concurrency !== null).map((r) => r.id);
    const running = await runningCountsByRun(client, limitedRuns);
    const agentsByOrg = new Map<string, Map<string, AgentInfo | null>>();
    for (const [org, slugs] of groupBy(
      ready,
      (s) => (runs.get(s.run_id) as LockedRun).organization_id,
      (s) => s.agent_slug ?? '',
    )) {
      agentsByOrg.set(org, await this.agents.lookup(client, org, slugs));
    }
    const agentRunning = new Map<string, number>();
    const chosen: Choice[] = [];
    for (const step of ready) {
      if (chosen.length >= limit) break;
      const run = runs.get(step.run_id) as LockedRun;
      if (run.max_concurrency !== null) {
        const n = running.get(run.id) ?? 0;
        if (n >= run.max_concurrency) continue;
        running.set(run.id, n + 1);
      }
      const agent = agentsByOrg.get(run.organization_id)?.get(step.agent_slug ?? '') ?? null;
      const routing = await this.routeStep(client, run, step, agent, agentRunning);
      if (routing === 'wait') {
        if (run.max_concurrency !== null) running.set(run.id, (running.get(run.id) ?? 1) - 1);
        continue;
      }
      if (routing) {
        chosen.push(routing);
        continue;
      }
      if (agent?.maxConcurrency) {
        const key = `${run.organization_id}:${step.agent_slug}`;
        const n = agentRunning.get(key) ?? (await lockAndCountAgent(client, run.organization_id, step.agent_slug ?? ''));
        if (n >= agent.maxConcurrency) {
          agentRunning.set(key, n);
          continue;
        }
        agentRunning.set(key, n + 1);
      }
      chosen.push({ step, agent });
    }
    return chosen;
  }

  /**
   * Capability routing and breaker fallback (see agent-router.ts): the choice for a step that is routed, `wait` when
   * every agent it could go to is at its maxConcurrency (it stays ready), null when it runs on its own agent.
   */
  private async routeStep(
    client: Queryable,
    run: LockedRun,
    step: ClaimableStep,
    agent: AgentInfo | null,
    agentRunning: Map<string, number>,
  ): Promise<Choice | 'wait' | null> {
    const spec = stepOf(await this.definitions.get(run.definition_id), step.step_key)?.spec;
    if (!spec?.capability && !spec?.fallback && !spec?.fallbackAgents?.length) return null;
    const own = spec.agent ?? step.agent_slug;
    const ownInfo =
      own === step.agent_slug ? agent : ((await this.agents.lookup(client, run.organization_id, [own ?? ''])).get(own ?? '') ?? null);
    const blocked =
      !!own &&
      !!ownInfo &&
      this.breakers.blocks(run.organization_id, own, { state: ownInfo.breakerState, changedAt: ownInfo.breakerChangedAt });
    const request = routeRequest(spec, own, ownInfo, blocked);
    if (!request) {
      if (own === step.agent_slug || !own) return null;
      // An earlier attempt fell back: this one goes back to the step's own agent, whose breaker lets it through again.
      if (!(await this.takeSlot(client, run.organization_id, own, ownInfo, agentRunning))) return 'wait';
      return { step, agent: ownInfo, routed: { slug: own, routedBy: { agent: own, reason: 'breaker_closed' } } };
    }
    const candidates = await rankedCandidates(client, run.organization_id, request, (slug, info) =>
      this.breakers.blocks(run.organization_id, slug, { state: info.breakerState, changedAt: info.breakerChangedAt }),
    );
    for (const candidate of candidates) {
      if (!(await this.takeSlot(client, run.organization_id, candidate.slug, candidate.agent, agentRunning))) continue;
      return { step, agent: candidate.agent, routed: { slug: candidate.slug, routedBy: request.routedBy } };
    }
    if (candidates.length > 0) return 'wait';
    // A fallback with nowhere to go: the step runs on its own agent, whose breaker fails it fast (it waits for its retry).
    if (!spec.capability) return null;
    const routeError: StepFailure = {
      code: 'NO_AGENT_AVAILABLE',
      message: `no active, healthy agent with capability ${spec.capability} (breakers open, unhealthy or none registered)`,
      retryable: true,
    };
    return { step, agent: null, routeError };
  }

  /** Takes one of the agent's maxConcurrency slots (under its advisory lock, see lockAndCountAgent); false when full. */
  private async takeSlot(
    client: Queryable,
    organizationId: string,
    slug: string,
    agent: AgentInfo | null,
    agentRunning: Map<string, number>,
  ): Promise<boolean> {
    if (!agent?.maxConcurrency) return true;
    const key = `${organizationId}:${slug}`;
    const n = agentRunning.get(key) ?? (await lockAndCountAgent(client, organizationId, slug));
    agentRunning.set(key, n >= agent.maxConcurrency ? n : n + 1);
    return n < agent.maxConcurrency;
  }

  private async renderInputs(
    client: Queryable,
    runs: Map<string, LockedRun>,
    chosen: { step: ClaimableStep }[],
    known: KnownOutputs = new Map(),
  ): Promise<Rendered[]> {
    const needRuns: string[] = [];
    const needKeys: string[] = [];
    const outputs = new Map<string, Record<string, { output: JsonValue }>>();
    const compiled = await Promise.all(chosen.map(({ step }) => this.definitions.get((runs.get(step.run_id) as LockedRun).definition_id)));
    // `{{ context.* }}`: the recent history of the conversations of the runs whose steps read it (one query).
    const wanted = chosen.flatMap(({ step }, i) => {
      const run = runs.get(step.run_id) as LockedRun;
      return stepOf(compiled[i], step.step_key)?.readsContext && run.context_id
        ? [{ organizationId: run.organization_id, contextId: run.context_id }]
        : [];
    });
    const histories = await contextHistories(client, wanted, this.config.contextHistoryLimit);
    chosen.forEach(({ step }, i) => {
      for (const key of stepOf(compiled[i], step.step_key)?.reads ?? []) {
        const output = known.get(step.run_id)?.get(key);
        if (output === undefined) {
          needRuns.push(step.run_id);
          needKeys.push(key);
          continue;
        }
        const steps = outputs.get(step.run_id) ?? {};
        steps[key] = { output };
        outputs.set(step.run_id, steps);
      }
    });
    for (const row of await upstreamOutputs(client, needRuns, needKeys)) {
      const steps = outputs.get(row.run_id) ?? {};
      steps[row.step_key] = { output: (row.output ?? null) as JsonValue };
      outputs.set(row.run_id, steps);
    }
    return chosen.map(({ step }, i) => {
      const spec = stepOf(compiled[i], step.step_key);
      const timeoutMs = spec?.timeoutMs ?? null;
      const dependents = spec?.dependents.length ?? 0;
      const run = runs.get(step.run_id) as LockedRun;
      const context: TemplateContext = {
        input: (run.input ?? null) as JsonValue,
        steps: outputs.get(step.run_id) ?? {},
        run: { id: run.id, organizationId: run.organization_id },
        context: {
          id: run.context_id ?? null,
          history: (run.context_id ? (histories.get(historyKey(run.organization_id, run.context_id)) ?? []) : []) as unknown as JsonValue[],
        },
      };
      // An operator's edited input is not what the cache key describes: such an attempt neither reads nor fills the cache.
      if (step.manual_input !== null && step.manual_input !== undefined)
        return { input: step.manual_input as JsonValue, error: null, timeoutMs, dependents, context, cacheKey: null };
      let what = 'input';
      try {
        const input = renderTemplate(spec?.spec.input ?? null, context);
        what = 'cache key';
        const cacheKey = spec?.spec.cache ? keyText(renderTemplate(spec.spec.cache.key, context)) : null;
        return { input, error: null, timeoutMs, dependents, context, cacheKey };
      } catch (error) {
        const detail = error instanceof TemplateError ? `${error.path}: ${error.message}` : (error as Error).message;
        return {
          input: null,
          error: `step ${step.step_key}: ${what} template failed at ${detail}`,
          timeoutMs,
          dependents,
          context,
          cacheKey: null,
        };
      }
    });
  }
}

/** A step's rendered input, and the template context it was rendered in (a forEach renders its children's in it). */
interface Rendered {
  input: JsonValue;
  error: string | null;
  timeoutMs: number | null;
  dependents: number;
  context: TemplateContext;
  /** The step's rendered cache key (null: it does not cache). */
  cacheKey: string | null;
}

/**
 * How many runs the claim locks: as many as the best candidates that fill `limit` slots belong to, and one more (a run's
 * step may be held back by its own or its agent's concurrency), or all of them when they cannot fill it.
 */
function runsToFill(candidates: { run_id: string }[], limit: number): number {
  const runs = new Set<string>();
  for (const [i, c] of candidates.entries()) {
    runs.add(c.run_id);
    if (i + 1 >= limit) return runs.size + 1;
  }
  return runs.size;
}

/** A rendered cache key as text: strings as they are, anything else as its JSON. */
function keyText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

type SpawnChoice = Extract<ChildPlan, { kind: 'spawn' }>;

/** A message without text parts, as text: its data parts' JSON. */
function dataText(parts: JsonValue[]): string {
  return parts
    .map((p) => (p !== null && typeof p === 'object' && !Array.isArray(p) && p.data !== undefined ? JSON.stringify(p.data) : null))
    .filter((t): t is string => t !== null)
    .join('\n');
}

function groupBy<T>(items: T[], key: (t: T) => string, value: (t: T) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k) ?? [];
    list.push(value(item));
    out.set(k, list);
  }
  return out;
}
