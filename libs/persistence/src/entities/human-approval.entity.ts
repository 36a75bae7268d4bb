import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type ApprovalStatus = 'pending' | 'resolved' | 'expired';
export type ApprovalDecision = 'continue' | 'retry' | 'skip' | 'abort';

@Entity('human_approvals')
export class HumanApprovalEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId: string;
  @Column({ name: 'step_id', type: 'uuid' }) stepId: string;
  @Column({ name: 'step_key', type: 'varchar', length: 100 }) stepKey: string;
  @Column({ type: 'varchar', length: 20, default: 'pending' }) status: ApprovalStatus;
  @Column({ type: 'varchar', length: 20, nullable: true }) decision: ApprovalDecision | null;
  @Column({ type: 'text' }) prompt: string;
  @Column({ type: 'jsonb', nullable: true }) payload: unknown;
  @Column({ type: 'jsonb', nullable: true }) modifications: unknown;
  @Column({ type: 'text', nullable: true }) comment: string | null;
  @Column({ name: 'requested_at', type: 'timestamptz', default: () => 'now()' }) requestedAt: Date;
  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true }) decidedAt: Date | null;
  @Column({ name: 'decided_by', type: 'uuid', nullable: true }) decidedBy: string | null;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt: Date | null;
  /** The step attempt the checkpoint gates. */
  @Column({ type: 'integer', default: 1 }) attempt: number;
  /** The decisions this checkpoint offers. */
  @Column({ type: 'text', array: true, default: () => "'{continue,retry,skip,abort}'" }) decisions: ApprovalDecision[];
  /** Roles that may decide (admin always may). */
  @Column({ type: 'text', array: true, default: () => "'{approver,admin}'" }) roles: string[];
  /** User ids, emails or `role:<role>`; empty: anyone of the roles. */
  @Column({ type: 'text', array: true, default: () => "'{}'" }) assignees: string[];
  /** Distinct `continue` votes needed. */
  @Column({ type: 'integer', default: 1 }) quorum: number;
  @Column({ name: 'on_timeout', type: 'varchar', length: 20, default: 'abort' }) onTimeout: Exclude<ApprovalDecision, 'retry'>;
  @Column({ name: 'escalate_at', type: 'timestamptz', nullable: true }) escalateAt: Date | null;
  @Column({ name: 'escalated_at', type: 'timestamptz', nullable: true }) escalatedAt: Date | null;
}
