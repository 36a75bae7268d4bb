/**
 * What the A2A server keeps beside the runs: each A2A task's contextId (a run started over REST has none: its
 * contextId is its run id) and the messages clients sent to the task (its history). Every query takes the
 * organization first; the task list reads runs of one definition joined with their contexts.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { JsonValue, RunStatus } from '#core';
import type { TaskRun as TaskRunView } from '#a2a';
import { preparedQuery, type OrchestrationRunEntity } from '#persistence';

/** A run as the A2A server reads it. */
export interface TaskRun extends TaskRunView {
  /** updated_at at full (microsecond) precision, for the list's keyset cursor. */
  updatedKey: string;
  /** Seq of the run's last event: a snapshot of the task is current up to this position of its log. */
  lastSeq: number;
}

/** A run row as its task shows it, in the context `contextId`. */
export function taskViewOf(run: OrchestrationRunEntity, contextId: string): TaskRunView {
  return {
    id: run.id,
    contextId,
    status: run.status,
    output: run.output as JsonValue,
    error: run.error as JsonValue,
    updatedAt: run.updatedAt,
    definitionSlug: run.definitionSlug,
    definitionVersion: run.definitionVersion,
  };
}

export interface TaskListFilter {
  definitionSlug: string;
  contextId?: string;
  statuses?: RunStatus[];
  updatedAfter?: Date;
  /** Keyset cursor: tasks strictly after this (updated_at DESC, id DESC) position. */
  after?: { updatedAt: string; id: string };
  limit: number;
}

interface TaskRunRow {
  id: string;
  status: RunStatus;
  output: JsonValue;
  error: JsonValue;
  updated_at: Date;
  definition_slug: string;
  definition_version: number;
  context_id: string;
  updated_key: string;
  last_seq: number;
}

const toTaskRun = (r: TaskRunRow): TaskRun => ({
  id: r.id,
  status: r.status,
  output: r.output,
  error: r.error,
  updatedAt: new Date(r.updated_at),
  definitionSlug: r.definition_slug,
  definitionVersion: r.definition_version,
  contextId: r.context_id,
  updatedKey: r.updated_key,
  lastSeq: r.last_seq,
});

const TASK_RUN_COLUMNS = `r.id, r.status, r.output, r.error, r.updated_at, r.definition_slug, r.definition_version, r.updated_at::text AS updated_key, r.last_seq,
    COALESCE(t.context_id, r.id::text) AS context_id`;
const TASK_RUNS = `orchestration_runs r LEFT JOIN a2a_tasks t ON t.run_id = r.id`;
const SELECT_TASK_RUN = `SELECT ${TASK_RUN_COLUMNS} FROM ${TASK_RUNS}`;

@Injectable()
export class A2aTaskRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The run as a task of agent `definitionSlug`, or null (another organization's, another agent's, or none). Read by
   * primary key alone, the rest checked on the row: with the statistics of a fast-growing table, the planner tied the
   * key with the (organization, status) index and scanned every run of the organization (~230 buffers a call).
   */
  async find(organizationId: string, definitionSlug: string, runId: string): Promise<TaskRun | null> {
    const rows: (TaskRunRow & { organization_id: string; deleted: boolean })[] = await this.dataSource.query(
      `SELECT r.organization_id, r.deleted_at IS NOT NULL AS deleted, ${TASK_RUN_COLUMNS} FROM ${TASK_RUNS} WHERE r.id = $1`,
      [runId],
    );
    const row = rows[0];
    return row && row.organization_id === organizationId && row.definition_slug === definitionSlug && !row.deleted ? toTaskRun(row) : null;
  }

  /**
   * A started task: records its context (a repeated start of the same run keeps the first) and appends the client's
   * message with the context the task has (`contextId` of `message` set to it), in one statement; returns that context.
   */
  async recordStart(organizationId: string, runId: string, contextId: string, message: unknown): Promise<string> {
    const rows = await preparedQuery<{ context_id: string }>(
      this.dataSource,
      `WITH inserted AS (
         INSERT INTO a2a_tasks (run_id, organization_id, context_id) VALUES ($2, $1, $3) ON CONFLICT (run_id) DO NOTHING RETURNING context_id
       ), task AS (
         SELECT context_id FROM inserted UNION ALL SELECT context_id FROM a2a_tasks WHERE run_id = $2 AND organization_id = $1 LIMIT 1
       ), appended AS (
         INSERT INTO a2a_task_messages (organization_id, run_id, message)
         SELECT $1, $2, jsonb_set($4::jsonb, '{contextId}', to_jsonb(task.context_id)) FROM task
       )
       SELECT context_id FROM task`,
      [organizationId, runId, contextId, JSON.stringify(message)],
    );
    return rows[0]?.context_id ?? contextId;
  }

  async appendMessage(organizationId: string, runId: string, message: unknown): Promise<void> {
    await this.dataSource.query(`INSERT INTO a2a_task_messages (organization_id, run_id, message) VALUES ($1, $2, $3)`, [
      organizationId,
      runId,
      JSON.stringify(message),
    ]);
  }

  /** The task's messages, oldest first; at most the `limit` most recent (null: all). */
  async history(organizationId: string, runId: string, limit: number | null): Promise<unknown[]> {
    const rows: { message: unknown }[] = await this.dataSource.query(
      `SELECT message FROM (
         SELECT id, message FROM a2a_task_messages WHERE organization_id = $1 AND run_id = $2 ORDER BY id DESC LIMIT $3
       ) m ORDER BY id`,
      [organizationId, runId, limit],
    );
    return rows.map((r) => r.message);
  }

  /** One page of the agent's tasks, most recently updated first, with the total matching the filter. */
  async list(organizationId: string, filter: TaskListFilter): Promise<{ items: TaskRun[]; total: number }> {
    const where = `r.organization_id = $1 AND r.definition_slug = $2 AND r.deleted_at IS NULL
      AND ($3::text IS NULL OR COALESCE(t.context_id, r.id::text) = $3)
      AND ($4::text[] IS NULL OR r.status = ANY ($4))
      AND ($5::timestamptz IS NULL OR r.updated_at >= $5)`;
    const params = [organizationId, filter.definitionSlug, filter.contextId ?? null, filter.statuses ?? null, filter.updatedAfter ?? null];
    const [rows, [count]] = await Promise.all([
      this.dataSource.query(
        `${SELECT_TASK_RUN} WHERE ${where}
           AND ($6::timestamptz IS NULL OR (r.updated_at, r.id) < ($6::timestamptz, $7::uuid))
         ORDER BY r.updated_at DESC, r.id DESC LIMIT $8`,
        [...params, filter.after?.updatedAt ?? null, filter.after?.id ?? null, filter.limit],
      ) as Promise<TaskRunRow[]>,
      this.dataSource.query(
        `SELECT count(*)::int AS n FROM orchestration_runs r LEFT JOIN a2a_tasks t ON t.run_id = r.id WHERE ${where}`,
        params,
      ) as Promise<{ n: number }[]>,
    ]);
    return { items: rows.map(toTaskRun), total: count.n };
  }
}
