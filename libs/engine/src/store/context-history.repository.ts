/**
 * The recent history of runs' conversations (tables of the conversations module), for `{{ context.history }}` and for
 * the chat messages context agents receive.
 */
import type { JsonValue } from '#core';
import type { Queryable } from './engine-database.js';

export interface HistoryEntry {
  seq: number;
  role: string;
  /** The text parts joined by newlines ('' when the message has none). */
  text: string;
  parts: JsonValue[];
}

export interface HistoryWanted {
  organizationId: string;
  contextId: string;
  /** Leave out this run's own messages (its input, its checkpoint exchanges): the conversation before it. */
  excludeRunId?: string;
}

/**
 * The last `limit` messages of each (organization, contextId[, excluded run]), oldest first; expired conversations have
 * none. Keyed by historyKey.
 */
export async function contextHistories(client: Queryable, contexts: HistoryWanted[], limit: number): Promise<Map<string, HistoryEntry[]>> {
  const out = new Map<string, HistoryEntry[]>();
  if (contexts.length === 0) return out;
  const { rows } = await client.query<{
    organization_id: string;
    context_id: string;
    exclude_run: string | null;
    seq: string;
    role: string;
    parts: JsonValue[];
  }>(
    `SELECT c.organization_id, c.context_id, k.exclude_run, m.seq, m.role, m.parts
       FROM conversations c
       JOIN unnest($1::uuid[], $2::text[], $4::uuid[]) AS k(organization_id, context_id, exclude_run) ON c.organization_id = k.organization_id AND c.context_id = k.context_id
       JOIN LATERAL (SELECT seq, role, parts FROM task_messages t
                      WHERE t.conversation_id = c.id AND t.run_id IS DISTINCT FROM k.exclude_run
                      ORDER BY seq DESC LIMIT $3) m ON true
      WHERE c.state <> 'expired'
      ORDER BY c.organization_id, c.context_id, k.exclude_run, m.seq`,
    [contexts.map((c) => c.organizationId), contexts.map((c) => c.contextId), limit, contexts.map((c) => c.excludeRunId ?? null)],
  );
  for (const row of rows) {
    const key = historyKey(row.organization_id, row.context_id, row.exclude_run ?? undefined);
    const text = (row.parts ?? [])
      .map((p) => (p !== null && typeof p === 'object' && !Array.isArray(p) && typeof p.text === 'string' ? p.text : null))
      .filter((t): t is string => t !== null)
      .join('\n');
    out.set(key, [...(out.get(key) ?? []), { seq: Number(row.seq), role: row.role, text, parts: row.parts ?? [] }]);
  }
  return out;
}

export function historyKey(organizationId: string, contextId: string, excludeRunId?: string): string {
  return `${organizationId}\u0000${contextId}\u0000${excludeRunId ?? ''}`;
}
