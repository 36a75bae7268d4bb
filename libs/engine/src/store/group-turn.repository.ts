/**
 * SQL of group turns (group_turns). A turn is inserted by the result applier's transaction, fenced like every result
 * and under the run's lock, together with its `group.turn` event: a turn is recorded once or not at all, and the
 * (step, turn) primary key refuses a second recording outright. A claim of a group step reads them back so the
 * conversation resumes at the next turn.
 */
import type { AgentUsage } from '#agents';
import type { JsonValue } from '#core';
import type { GroupTurn, SelectedBy } from '../group/group-conversation.js';
import type { Queryable } from './engine-database.js';

export interface NewGroupTurn {
  stepId: string;
  runId: string;
  organizationId: string;
  attempt: number;
  turn: GroupTurn;
}

export async function insertGroupTurns(client: Queryable, turns: NewGroupTurn[]): Promise<void> {
  if (turns.length === 0) return;
  await client.query(
    `INSERT INTO group_turns (step_id, turn, run_id, organization_id, attempt, speaker, agent_slug, text, output, selected_by, usage)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::text[], $11::jsonb[])`,
    [
      turns.map((t) => t.stepId),
      turns.map((t) => t.turn.turn),
      turns.map((t) => t.runId),
      turns.map((t) => t.organizationId),
      turns.map((t) => t.attempt),
      turns.map((t) => t.turn.speaker),
      turns.map((t) => t.turn.agent),
      turns.map((t) => t.turn.text),
      turns.map((t) => JSON.stringify(t.turn.output ?? null)),
      turns.map((t) => t.turn.selectedBy),
      turns.map((t) => (t.turn.usage ? JSON.stringify(t.turn.usage) : null)),
    ],
  );
}

/** The recorded turns of each step, in turn order. */
export async function groupTurnsOf(client: Queryable, stepIds: string[]): Promise<Map<string, GroupTurn[]>> {
  const out = new Map<string, GroupTurn[]>();
  if (stepIds.length === 0) return out;
  const { rows } = await client.query<{
    step_id: string;
    turn: number;
    speaker: string;
    agent_slug: string;
    text: string;
    output: JsonValue;
    selected_by: SelectedBy;
    usage: AgentUsage | null;
  }>(
    `SELECT step_id, turn, speaker, agent_slug, text, output, selected_by, usage FROM group_turns
      WHERE step_id = ANY($1::uuid[]) ORDER BY step_id, turn`,
    [stepIds],
  );
  for (const r of rows) {
    const turn: GroupTurn = {
      turn: r.turn,
      speaker: r.speaker,
      agent: r.agent_slug,
      text: r.text,
      output: r.output,
      selectedBy: r.selected_by,
    };
    if (r.usage) turn.usage = r.usage;
    out.set(r.step_id, [...(out.get(r.step_id) ?? []), turn]);
  }
  return out;
}

/** Forgets a group step's turns: a `retry` decision at its checkpoint starts the conversation over. */
export async function deleteGroupTurns(client: Queryable, stepId: string): Promise<void> {
  await client.query(`DELETE FROM group_turns WHERE step_id = $1`, [stepId]);
}
