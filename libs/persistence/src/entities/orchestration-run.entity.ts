import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { RunStatus } from '#core';

@Entity('orchestration_runs')
export class OrchestrationRunEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ name: 'definition_id', type: 'uuid' }) definitionId: string;
  @Column({ name: 'definition_slug', type: 'varchar', length: 100 }) definitionSlug: string;
  @Column({ name: 'definition_version', type: 'integer' }) definitionVersion: number;
  @Column({ name: 'parent_run_id', type: 'uuid', nullable: true }) parentRunId: string | null;
  @Column({ name: 'parent_step_id', type: 'uuid', nullable: true }) parentStepId: string | null;
  @Column({ name: 'parent_attempt', type: 'integer', nullable: true }) parentAttempt: number | null;
  @Column({ name: 'item_index', type: 'integer', nullable: true }) itemIndex: number | null;
  @Column({ type: 'integer', default: 0 }) depth: number;
  /** The definition's `compensate` flag, copied at creation. */
  @Column({ type: 'boolean', default: false }) compensate: boolean;
  @Column({ type: 'varchar', length: 20, nullable: true }) compensation: 'running' | 'completed' | 'failed' | null;
  /** The end a compensating run reaches once its rollbacks are over, and its error. */
  @Column({ name: 'compensation_status', type: 'varchar', length: 24, nullable: true }) compensationStatus: 'failed' | 'cancelled' | null;
  @Column({ name: 'compensation_error', type: 'jsonb', nullable: true }) compensationError: unknown;
  /** The A2A context (conversation) the run belongs to. */
  @Column({ name: 'context_id', type: 'varchar', length: 200, nullable: true }) contextId: string | null;
  /** W3C traceparent of the request that started the run (its spans join that trace). */
  @Column({ name: 'trace_parent', type: 'varchar', length: 55, nullable: true }) traceParent: string | null;
  @Column({ type: 'jsonb', nullable: true }) budget: unknown;
  @Column({ name: 'usage_input_tokens', type: 'bigint', default: 0 }) usageInputTokens: string;
  @Column({ name: 'usage_output_tokens', type: 'bigint', default: 0 }) usageOutputTokens: string;
  @Column({ name: 'usage_cost_usd', type: 'numeric', default: 0 }) usageCostUsd: string;
  @Column({ type: 'varchar', length: 24, default: 'pending' }) status: RunStatus;
  @Column({ type: 'jsonb', default: () => "'{}'" }) input: unknown;
  @Column({ type: 'jsonb', nullable: true }) output: unknown;
  @Column({ type: 'jsonb', nullable: true }) error: unknown;
  @Column({ type: 'integer', default: 0 }) priority: number;
  @Column({ name: 'idempotency_key', type: 'varchar', length: 200, nullable: true }) idempotencyKey: string | null;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy: string | null;
  @Column({ name: 'last_seq', type: 'integer', default: 0 }) lastSeq: number;
  @Column({ name: 'max_concurrency', type: 'integer', nullable: true }) maxConcurrency: number | null;
  @Column({ name: 'steps_remaining', type: 'integer', default: 0 }) stepsRemaining: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt: Date | null;
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true }) deletedAt: Date | null;
}
