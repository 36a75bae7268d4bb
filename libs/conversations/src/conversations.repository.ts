/**
 * SQL of the conversation tables. Every read a caller can reach takes the organization first; the sweeps (idle,
 * expiry, unanswered runs) are cross-organization by nature and lock what they change with SKIP LOCKED, so several
 * instances sweeping at once share the work instead of repeating it.
 *
 * Invariant kept here: a message's seq is `last_seq + 1` of its conversation, computed and written while the caller
 * holds the conversation's row lock (`lock`), so seqs are gapless and commit in order.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { JsonValue, Page, PageRequest, RunStatus } from '#core';
import { preparedQuery } from '#persistence';
import type {
  AgentState,
  Conversation,
  ConversationState,
  MessageRole,
  NewTaskMessage,
  TaskMessage,
  UnansweredRun,
} from './conversation.types.js';

interface ConversationRow {
  id: string;
  organization_id: string;
  context_id: string;
  state: ConversationState;
  last_seq: string;
  created_at: Date;
  last_activity_at: Date;
  idle_at: Date | null;
  expires_at: Date;
  expired_at: Date | null;
}

interface MessageRow {
  seq: string;
  role: MessageRole;
  parts: JsonValue[];
  run_id: string | null;
  message_id: string | null;
  created_at: Date;
}

const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id,
  organizationId: r.organization_id,
  contextId: r.context_id,
  state: r.state,
  messageCount: Number(r.last_seq),
  createdAt: new Date(r.created_at),
  lastActivityAt: new Date(r.last_activity_at),
  idleAt: r.idle_at ? new Date(r.idle_at) : null,
  expiresAt: new Date(r.expires_at),
  expiredAt: r.expired_at ? new Date(r.expired_at) : null,
});

const toMessage = (r: MessageRow): TaskMessage => ({
  seq: Number(r.seq),
  role: r.role,
  parts: r.parts,
  taskId: r.run_id,
  messageId: r.message_id,
  createdAt: new Date(r.created_at),
});

// UPDATE ... RETURNING is wrapped in a CTE below: TypeORM's query() answers a bare UPDATE with [rows, count].
const COLUMNS = `id, organization_id, context_id, state, last_seq, created_at, last_activity_at, idle_at, expires_at, expired_at`;
const EXPIRED: ConversationState = 'expired';

@Injectable()
export class ConversationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private q(manager?: EntityManager): Pick<EntityManager, 'query'> {
    return manager ?? this.dataSource;
  }

  /**
   * The conversation, created when it does not exist (a concurrent creator wins; this one then does nothing), and
   * row-locked until the transaction ends like `lock`. A row this transaction just inserted is answered from the
   * INSERT itself: nobody else can see it, let alone lock it, before the commit (one statement for a new context).
   */
  async ensureLocked(organizationId: string, contextId: string, expireMs: number, manager: EntityManager): Promise<Conversation | null> {
    const created = await preparedQuery<ConversationRow>(
      manager,
      `INSERT INTO conversations (organization_id, context_id, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (organization_id, context_id) DO NOTHING RETURNING ${COLUMNS}`,
      [organizationId, contextId, expireMs],
    );
    return created[0] ? toConversation(created[0]) : this.lock(organizationId, contextId, manager);
  }

  /** The conversation, row-locked until the transaction ends (`share`: against expiry and appends only). */
  async lock(
    organizationId: string,
    contextId: string,
    manager: EntityManager,
    mode: 'update' | 'share' = 'update',
  ): Promise<Conversation | null> {
    const rows = await preparedQuery<ConversationRow>(
      manager,
      `SELECT ${COLUMNS} FROM conversations WHERE organization_id = $1 AND context_id = $2 FOR ${mode === 'update' ? 'UPDATE' : 'SHARE'}`,
      [organizationId, contextId],
    );
    return rows[0] ? toConversation(rows[0]) : null;
  }

  /** Locks by id; with `skipLocked`, null when another transaction holds it (a sweep comes back later). */
  async lockById(id: string, manager: EntityManager, skipLocked: boolean): Promise<Conversation | null> {
    const rows = await preparedQuery<ConversationRow>(
      manager,
      `SELECT ${COLUMNS} FROM conversations WHERE id = $1 FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
      [id],
    );
    return rows[0] ? toConversation(rows[0]) : null;
  }

  async find(organizationId: string, contextId: string): Promise<Conversation | null> {
    const rows: ConversationRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM conversations WHERE organization_id = $1 AND context_id = $2`,
      [organizationId, contextId],
    );
    return rows[0] ? toConversation(rows[0]) : null;
  }

  /** The organization's conversations, most recently active first. */
  async list(organizationId: string, state: ConversationState | undefined, page: PageRequest): Promise<Page<Conversation>> {
    const params = [organizationId, state ?? null];
    const where = `organization_id = $1 AND ($2::text IS NULL OR state = $2)`;
    const [rows, [count]] = await Promise.all([
      this.dataSource.query(
        `SELECT ${COLUMNS} FROM conversations WHERE ${where} ORDER BY last_activity_at DESC, id DESC LIMIT $3 OFFSET $4`,
        [...params, page.limit, page.offset],
      ) as Promise<ConversationRow[]>,
      this.dataSource.query(`SELECT count(*)::int AS n FROM conversations WHERE ${where}`, params) as Promise<{ n: number }[]>,
    ]);
    return { items: rows.map(toConversation), total: count.n, limit: page.limit, offset: page.offset };
  }

  /**
   * Appends messages to a conversation the caller holds locked (`lock`), in order; a message whose id the
   * conversation already has is skipped. Returns the conversation's new last seq.
   */
  async append(conversation: Conversation, messages: NewTaskMessage[], manager: EntityManager): Promise<number> {
    let seq = conversation.messageCount;
    for (const message of messages) {
      const rows = await preparedQuery<unknown>(
        manager,
        `INSERT INTO task_messages (conversation_id, seq, organization_id, role, parts, run_id, message_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (conversation_id, message_id) WHERE message_id IS NOT NULL DO NOTHING RETURNING seq`,
        [
          conversation.id,
          seq + 1,
          conversation.organizationId,
          message.role,
          JSON.stringify(message.parts),
          message.runId,
          message.messageId,
        ],
      );
      if (rows.length > 0) seq += 1;
    }
    return seq;
  }

  /** Activity: the conversation is active again, its last seq moved and its expiry pushed back. */
  async touch(conversationId: string, lastSeq: number, expireMs: number, manager: EntityManager): Promise<void> {
    await preparedQuery(
      manager,
      `UPDATE conversations SET last_seq = $2, state = 'active', idle_at = NULL, last_activity_at = now(),
         expires_at = now() + $3 * interval '1 millisecond'
       WHERE id = $1`,
      [conversationId, lastSeq, expireMs],
    );
  }

  /**
   * One message into a locked conversation, in one statement: links its run (`conversation_runs`, and `a2a_tasks` so a
   * run started over REST has the same contextId in the A2A view; a repeated start keeps the first links), appends
   * the message as the next seq (once per messageId), and makes the conversation active with its expiry pushed back,
   * as `append` and `touch` do. Returns the conversation's last seq after it.
   */
  async recordMessage(conversation: Conversation, message: NewTaskMessage, expireMs: number, manager: EntityManager): Promise<number> {
    const rows = await preparedQuery<{ last_seq: string | number }>(
      manager,
      `WITH linked AS (
         INSERT INTO conversation_runs (run_id, conversation_id, organization_id)
         SELECT $6::uuid, $1, $3 WHERE $6::uuid IS NOT NULL ON CONFLICT (run_id) DO NOTHING
       ), tasked AS (
         INSERT INTO a2a_tasks (run_id, organization_id, context_id)
         SELECT $6::uuid, $3, $9 WHERE $6::uuid IS NOT NULL ON CONFLICT (run_id) DO NOTHING
       ), appended AS (
         INSERT INTO task_messages (conversation_id, seq, organization_id, role, parts, run_id, message_id)
         VALUES ($1, $2::bigint + 1, $3, $4, $5, $6::uuid, $7)
         ON CONFLICT (conversation_id, message_id) WHERE message_id IS NOT NULL DO NOTHING RETURNING seq
       )
       UPDATE conversations SET last_seq = COALESCE((SELECT seq FROM appended), $2::bigint), state = 'active', idle_at = NULL,
         last_activity_at = now(), expires_at = now() + $8 * interval '1 millisecond'
        WHERE id = $1
       RETURNING last_seq`,
      [
        conversation.id,
        conversation.messageCount,
        conversation.organizationId,
        message.role,
        JSON.stringify(message.parts),
        message.runId,
        message.messageId,
        expireMs,
        conversation.contextId,
      ],
    );
    return Number(rows[0].last_seq);
  }

  /** The conversation a run was started in, if any (tenant-scoped). */
  async contextOfRun(organizationId: string, runId: string, manager?: EntityManager): Promise<string | null> {
    const rows: { context_id: string }[] = await this.q(manager).query(
      `SELECT c.context_id FROM conversation_runs cr JOIN conversations c ON c.id = cr.conversation_id
        WHERE cr.organization_id = $1 AND cr.run_id = $2`,
      [organizationId, runId],
    );
    return rows[0]?.context_id ?? null;
  }

  /** History entries with seq > `after`, oldest first. */
  async history(conversationId: string, after: number, limit: number): Promise<TaskMessage[]> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT seq, role, parts, run_id, message_id, created_at FROM task_messages
        WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [conversationId, after, limit],
    );
    return rows.map(toMessage);
  }

  /** The last `limit` entries, oldest first: what a run in the context would be shown as its recent history. */
  async recent(conversationId: string, limit: number): Promise<TaskMessage[]> {
    const rows: MessageRow[] = await this.dataSource.query(
      `SELECT * FROM (SELECT seq, role, parts, run_id, message_id, created_at FROM task_messages
         WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) m ORDER BY seq`,
      [conversationId, limit],
    );
    return rows.map(toMessage);
  }

  /**
   * Runs of conversations that are in a state with an answer (`statuses`) their history does not hold yet (the run
   * logged events since its last recorded answer). Optionally one run only.
   */
  async unansweredRuns(
    statuses: readonly RunStatus[],
    limit: number,
    only?: { organizationId: string; runId: string },
  ): Promise<UnansweredRun[]> {
    const rows: { run_id: string; organization_id: string; conversation_id: string; context_id: string }[] = await this.dataSource.query(
      `SELECT cr.run_id, cr.organization_id, cr.conversation_id, c.context_id
         FROM conversation_runs cr
         JOIN orchestration_runs r ON r.id = cr.run_id
         JOIN conversations c ON c.id = cr.conversation_id
        WHERE NOT cr.settled AND r.status = ANY($1::text[]) AND r.last_seq > cr.answered_seq
          AND ($3::uuid IS NULL OR (cr.run_id = $3 AND cr.organization_id = $4))
        ORDER BY cr.created_at LIMIT $2`,
      [[...statuses], limit, only?.runId ?? null, only?.organizationId ?? null],
    );
    return rows.map((r) => ({
      runId: r.run_id,
      organizationId: r.organization_id,
      conversationId: r.conversation_id,
      contextId: r.context_id,
    }));
  }

  /**
   * Moves a run's answer mark to `seq` (its log position when the answer was read); false when the mark is already
   * there or beyond (another instance recorded this answer, or a later one).
   */
  async markAnswered(runId: string, seq: number, settled: boolean, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `WITH moved AS (UPDATE conversation_runs SET answered_seq = $2, settled = $3 WHERE run_id = $1 AND answered_seq < $2 RETURNING 1)
       SELECT * FROM moved`,
      [runId, seq, settled],
    );
    return rows.length > 0;
  }

  /** Active conversations quiet for `idleMs` become idle; returns how many. */
  async markIdle(idleMs: number, limit: number): Promise<number> {
    const rows: unknown[] = await this.dataSource.query(
      `WITH idled AS (
         UPDATE conversations SET state = 'idle', idle_at = now()
          WHERE id IN (SELECT id FROM conversations WHERE state = 'active' AND last_activity_at <= now() - $1 * interval '1 millisecond'
                        ORDER BY last_activity_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING 1)
       SELECT * FROM idled`,
      [idleMs, limit],
    );
    return rows.length;
  }

  /** Up to `limit` conversations past their expiry, locked (SKIP LOCKED) for the caller's transaction. */
  async lockExpirable(limit: number, manager: EntityManager): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(
      `SELECT id FROM conversations WHERE state <> $1 AND expires_at <= now() ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [EXPIRED, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Expires locked conversations: their history and agent state are deleted, the rows stay as `expired`. */
  async expire(ids: string[], manager: EntityManager): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(`DELETE FROM task_messages WHERE conversation_id = ANY($1::uuid[])`, [ids]);
    await manager.query(`DELETE FROM conversation_agent_state WHERE conversation_id = ANY($1::uuid[])`, [ids]);
    await manager.query(
      `UPDATE conversations SET state = $2, expired_at = now(), expires_at = LEAST(expires_at, now()) WHERE id = ANY($1::uuid[])`,
      [ids, EXPIRED],
    );
  }

  async countsByState(): Promise<{ state: ConversationState; n: number }[]> {
    return this.dataSource.query(`SELECT state, count(*)::int AS n FROM conversations GROUP BY state`);
  }

  async agentState(conversationId: string, agentSlug: string, manager?: EntityManager): Promise<AgentState | null> {
    const rows: { agent_slug: string; state: JsonValue; version: number; updated_at: Date }[] = await this.q(manager).query(
      `SELECT agent_slug, state, version, updated_at FROM conversation_agent_state WHERE conversation_id = $1 AND agent_slug = $2`,
      [conversationId, agentSlug],
    );
    const r = rows[0];
    return r ? { agentSlug: r.agent_slug, state: r.state, version: r.version, updatedAt: new Date(r.updated_at) } : null;
  }

  /**
   * Writes the agent's document if its version is still `expected` (0: not written yet); the new document, or null
   * when the version moved (a stale write).
   */
  async writeAgentState(
    conversation: Conversation,
    agentSlug: string,
    state: JsonValue,
    expected: number,
    manager: EntityManager,
  ): Promise<AgentState | null> {
    const json = JSON.stringify(state);
    const rows: { version: number; updated_at: Date }[] =
      expected === 0
        ? await manager.query(
            `INSERT INTO conversation_agent_state (conversation_id, agent_slug, organization_id, state, version) VALUES ($1, $2, $3, $4, 1)
             ON CONFLICT (conversation_id, agent_slug) DO NOTHING RETURNING version, updated_at`,
            [conversation.id, agentSlug, conversation.organizationId, json],
          )
        : await manager.query(
            `WITH written AS (
               UPDATE conversation_agent_state SET state = $3, version = version + 1, updated_at = now()
                WHERE conversation_id = $1 AND agent_slug = $2 AND version = $4 RETURNING version, updated_at)
             SELECT * FROM written`,
            [conversation.id, agentSlug, json, expected],
          );
    const r = rows[0];
    return r ? { agentSlug, state, version: r.version, updatedAt: new Date(r.updated_at) } : null;
  }
}
