/**
 * Persistent conversations (A2A contexts): each change is one transaction that holds the conversation's row lock, so
 * - history seqs are gapless and commit in order (append under the lock);
 * - expiry and appends exclude each other (an expired context accepts nothing, a context being appended to is not
 *   expired under the writer);
 * - an agent answer is recorded once, even with several instances recording it (the run's answer mark moves under
 *   the lock, from the log position the answer was read at).
 * Nothing lives in memory: any instance serves any context, before and after a restart.
 */
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '#config';
import { DomainError, type JsonValue, type Page, type PageRequest, type RunStatus } from '#core';
import type { AgentState, Conversation, ConversationState, TaskMessage, UnansweredRun } from './conversation.types.js';
import { ConversationsRepository } from './conversations.repository.js';

const EXPIRE_BATCH = 100;
const IDLE_BATCH = 1000;

export interface UserMessage {
  runId: string | null;
  messageId: string | null;
  parts: JsonValue[];
}

export type AnswerOutcome = 'recorded' | 'already' | 'busy';

function expiredError(contextId: string): DomainError {
  return DomainError.invalidState(`Conversation ${contextId} expired: it accepts no more messages; start a new context`, {
    contextId,
    state: 'expired',
  });
}

@Injectable()
export class ConversationsService {
  constructor(
    private readonly repository: ConversationsRepository,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get expireMs(): number {
    return this.config.conversationExpireMs;
  }

  /** Refuses a context that expired before a run is started in it (the append refuses it again under the lock). */
  async assertOpen(organizationId: string, contextId: string): Promise<void> {
    const conversation = await this.repository.find(organizationId, contextId);
    if (conversation?.state === 'expired') throw expiredError(contextId);
  }

  /**
   * A message into a context (an A2A message, or the input of a run started in it): creates the conversation on
   * first use, makes it active, links the run and appends the message. A repeated messageId is appended once.
   */
  async recordUserMessage(organizationId: string, contextId: string, message: UserMessage): Promise<Conversation> {
    return this.dataSource.transaction(async (manager) => {
      const conversation = open(await this.repository.ensureLocked(organizationId, contextId, this.expireMs, manager), contextId);
      const last = await this.repository.recordMessage(conversation, { role: 'user', ...message }, this.expireMs, manager);
      return { ...conversation, messageCount: last, state: 'active' };
    });
  }

  /** Runs whose current answer (final result, failure, or checkpoint prompt) is not yet in their context's history. */
  unanswered(statuses: readonly RunStatus[], limit: number, only?: { organizationId: string; runId: string }): Promise<UnansweredRun[]> {
    return this.repository.unansweredRuns(statuses, limit, only);
  }

  /**
   * Appends a run's answer read at log position `atSeq`, unless that answer (or a later one) is already recorded.
   * `answerKey` names the answer's content (the final state; the set of pending checkpoints), so a run that logs more
   * events while it waits at the same checkpoint does not repeat its prompt. `final`: the run finished, nothing more
   * will be answered. `wait: false` (sweeps) gives up on a conversation another transaction holds ('busy').
   */
  async recordAnswer(
    run: UnansweredRun,
    atSeq: number,
    answer: { key: string; parts: JsonValue[]; final: boolean },
    wait: boolean,
  ): Promise<AnswerOutcome> {
    return this.dataSource.transaction(async (manager) => {
      const conversation = await this.repository.lockById(run.conversationId, manager, !wait);
      if (!conversation) return 'busy';
      const expired = conversation.state === 'expired';
      if (!(await this.repository.markAnswered(run.runId, atSeq, answer.final || expired, manager))) return 'already';
      if (expired) return 'already';
      const last = await this.repository.append(
        conversation,
        [{ role: 'agent', parts: answer.parts, runId: run.runId, messageId: answer.key }],
        manager,
      );
      if (last === conversation.messageCount) return 'already';
      await this.repository.touch(conversation.id, last, this.expireMs, manager);
      return 'recorded';
    });
  }

  /** Inactivity: active -> idle after BATON_CONVERSATION_IDLE_MS, any -> expired at expires_at. Safe on every instance. */
  async sweepStates(): Promise<{ idled: number; expired: number }> {
    let idled = 0;
    for (let n = IDLE_BATCH; n === IDLE_BATCH; idled += n) n = await this.repository.markIdle(this.config.conversationIdleMs, IDLE_BATCH);
    let expired = 0;
    for (let n = EXPIRE_BATCH; n === EXPIRE_BATCH; expired += n)
      n = await this.dataSource.transaction(async (manager) => {
        const ids = await this.repository.lockExpirable(EXPIRE_BATCH, manager);
        await this.repository.expire(ids, manager);
        return ids.length;
      });
    return { idled, expired };
  }

  countsByState(): Promise<{ state: ConversationState; n: number }[]> {
    return this.repository.countsByState();
  }

  list(organizationId: string, state: ConversationState | undefined, page: PageRequest): Promise<Page<Conversation>> {
    return this.repository.list(organizationId, state, page);
  }

  async get(organizationId: string, contextId: string): Promise<Conversation> {
    const conversation = await this.repository.find(organizationId, contextId);
    if (!conversation) throw DomainError.notFound('Conversation', contextId);
    return conversation;
  }

  /** One page of the history: entries with seq > `after`, oldest first. */
  async history(
    organizationId: string,
    contextId: string,
    after: number,
    limit: number,
  ): Promise<{ conversation: Conversation; messages: TaskMessage[] }> {
    const conversation = await this.get(organizationId, contextId);
    return { conversation, messages: await this.repository.history(conversation.id, after, limit) };
  }

  /**
   * The hook for `{{ context.history }}`: the last `limit` entries of the context a run was started in (empty for a
   * run outside any context).
   */
  async recentForRun(organizationId: string, runId: string, limit: number): Promise<TaskMessage[]> {
    const contextId = await this.repository.contextOfRun(organizationId, runId);
    if (!contextId) return [];
    const conversation = await this.repository.find(organizationId, contextId);
    return conversation ? this.repository.recent(conversation.id, limit) : [];
  }

  /** DELETE: expires the conversation now (history and agent state deleted); expiring an expired one changes nothing. */
  async expireNow(organizationId: string, contextId: string): Promise<Conversation> {
    await this.dataSource.transaction(async (manager) => {
      const conversation = await this.repository.lock(organizationId, contextId, manager);
      if (!conversation) throw DomainError.notFound('Conversation', contextId);
      if (conversation.state !== 'expired') await this.repository.expire([conversation.id], manager);
    });
    return this.get(organizationId, contextId);
  }

  /** The agent's document in the context; version 0 and state null when it was never written. */
  async agentState(organizationId: string, contextId: string, agentSlug: string): Promise<AgentState> {
    const conversation = await this.get(organizationId, contextId);
    return (await this.repository.agentState(conversation.id, agentSlug)) ?? { agentSlug, state: null, version: 0, updatedAt: null };
  }

  /**
   * Optimistic write: succeeds only if the document is still at `expectedVersion` (0 to create it); a stale write is
   * a conflict whose details carry the current version.
   */
  async writeAgentState(
    organizationId: string,
    contextId: string,
    agentSlug: string,
    state: JsonValue,
    expectedVersion: number,
  ): Promise<AgentState> {
    return this.dataSource.transaction(async (manager) => {
      const conversation = await this.repository.lock(organizationId, contextId, manager, 'share');
      if (!conversation) throw DomainError.notFound('Conversation', contextId);
      if (conversation.state === 'expired') throw expiredError(contextId);
      const written = await this.repository.writeAgentState(conversation, agentSlug, state, expectedVersion, manager);
      if (written) return written;
      const current = await this.repository.agentState(conversation.id, agentSlug, manager);
      const currentVersion = current?.version ?? 0;
      throw DomainError.conflict(
        `Agent state of ${agentSlug} in conversation ${contextId} is at version ${currentVersion}, not ${expectedVersion}: read it again and retry`,
        { currentVersion, expectedVersion },
      );
    });
  }

}

/** The locked conversation, if it exists and has not expired. */
function open(conversation: Conversation | null, contextId: string): Conversation {
  if (!conversation) throw DomainError.notFound('Conversation', contextId);
  if (conversation.state === 'expired') throw expiredError(contextId);
  return conversation;
}
