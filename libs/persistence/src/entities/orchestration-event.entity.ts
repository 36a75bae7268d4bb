import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';


/** The append-only event log. `id` is a bigint, exposed as a string to stay exact in JSON. */
@Entity('orchestration_events')
export class OrchestrationEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId: string;
  @Column({ type: 'integer' }) seq: number;
  @Column({ type: 'varchar', length: 64 }) type: string;
  @Column({ name: 'step_key', type: 'varchar', length: 100, nullable: true }) stepKey: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) payload: unknown;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
