import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { StepStatus } from '#core';

/** `rollback`: a compensation step the engine adds when a run with `compensate: true` fails or is aborted. */
export type StepType = 'agent' | 'orchestration' | 'approval' | 'rollback' | 'group';

@Entity('orchestration_steps')
export class OrchestrationStepEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ name: 'step_key', type: 'varchar', length: 100 }) stepKey: string;
  @Column({ type: 'integer' }) position: number;
  @Column({ type: 'varchar', length: 20, default: 'agent' }) type: StepType;
  @Column({ name: 'agent_slug', type: 'varchar', length: 100, nullable: true }) agentSlug: string | null;
  @Column({ type: 'varchar', length: 24, default: 'pending' }) status: StepStatus;
  @Column({ name: 'depends_on', type: 'text', array: true, default: () => "'{}'" }) dependsOn: string[];
  @Column({ name: 'pending_dependencies', type: 'integer', default: 0 }) pendingDependencies: number;
  @Column({ type: 'integer', default: 0 }) attempt: number;
  @Column({ name: 'max_attempts', type: 'integer', default: 1 }) maxAttempts: number;
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true }) nextAttemptAt: Date | null;
  @Column({ type: 'integer', default: 0 }) priority: number;
  @Column({ name: 'timeout_ms', type: 'integer', nullable: true }) timeoutMs: number | null;
  @Column({ type: 'jsonb', nullable: true }) input: unknown;
  @Column({ type: 'jsonb', nullable: true }) output: unknown;
  @Column({ type: 'jsonb', nullable: true }) error: unknown;
  /** Tokens and cost of the attempt that completed the step (LLM agents), else null. */
  @Column({ type: 'jsonb', nullable: true }) usage: unknown;
  @Column({ name: 'lease_owner', type: 'varchar', length: 200, nullable: true }) leaseOwner: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true }) leaseExpiresAt: Date | null;
  @Column({ name: 'lease_losses', type: 'integer', default: 0 }) leaseLosses: number;
  @Column({ name: 'manual_input', type: 'jsonb', nullable: true }) manualInput: unknown;
  @Column({ type: 'boolean', default: false }) reversible: boolean;
  @Column({ name: 'children_total', type: 'integer', default: 0 }) childrenTotal: number;
  /** The children plan of a waiting orchestration step (definition, concurrency, failFast). */
  @Column({ type: 'jsonb', nullable: true }) spawn: Record<string, unknown> | null;
  @Column({ name: 'children_started', type: 'integer', default: 0 }) childrenStarted: number;
  @Column({ name: 'children_finished', type: 'integer', default: 0 }) childrenFinished: number;
  /** For a rollback step: the key of the step it undoes. */
  @Column({ type: 'varchar', length: 100, nullable: true }) compensates: string | null;
  @Column({ type: 'jsonb', nullable: true }) rollback: Record<string, unknown> | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt: Date | null;
}
