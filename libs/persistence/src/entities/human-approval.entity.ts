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
}
