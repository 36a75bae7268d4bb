/** The recent history of runs' conversations (tables of the conversations module), for `{{ context.history }}`. */
import type { JsonValue } from '#core';
import type { Queryable } from './engine-database.js';

export interface HistoryEntry {
  seq: number;
  role: string;
  /** The text parts joined by newlines ('' when the message has none). */
  text: string;
  parts: JsonValue[];
}

/** The last `limit` messages of each (organization, contextId), oldest first; expired conversations have none. */
export async function contextHistories(
  client: Queryable,
  contexts: { organizationId: string; contextId: string }[],
  limit: number,
): Promise<Map<string, HistoryEntry[]>> {
  const out = new Map<string, HistoryEntry[]>();
  if (contexts.length === 0) return out;
  const { rows } = await client.query<{ organization_id: string; context_id: string; seq: string; role: string; parts: JsonValue[] }>(
    `SELECT c.organization_id, c.context_id, m.seq, m.role, m.parts
       FROM conversations c
       JOIN unnest($1::uuid[], $2::text[]) AS k(organization_id, context_id) ON c.organization_id = k.organization_id AND c.context_id = k.context_id
       JOIN LATERAL (SELECT seq, role, parts FROM task_messages t WHERE t.conversation_id = c.id ORDER BY seq DESC LIMIT $3) m ON true
      WHERE c.state <> 'expired'
      ORDER BY c.organization_id, c.context_id, m.seq`,
    [contexts.map((c) => c.organizationId), contexts.map((c) => c.contextId), limit],
  );
  for (const row of rows) {
    const key = historyKey(row.organization_id, row.context_id);
    const text = (row.parts ?? [])
      .map((p) => (p !== null && typeof p === 'object' && !Array.isArray(p) && typeof p.text === 'string' ? p.text : null))
      .filter((t): t is string => t !== null)
      .join('\n');
    out.set(key, [...(out.get(key) ?? []), { seq: Number(row.seq), role: row.role, text, parts: row.parts ?? [] }]);
  }
  return out;
}

export function historyKey(organizationId: string, contextId: string): string {
  return `${organizationId}\u0000${contextId}`;
}
