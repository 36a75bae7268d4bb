import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';


export type ActorType = 'user' | 'api_key' | 'system';

@Entity('audit_log')
export class AuditLogEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ name: 'actor_type', type: 'varchar', length: 20 }) actorType: ActorType;
  @Column({ name: 'actor_id', type: 'uuid', nullable: true }) actorId: string | null;
  @Column({ type: 'varchar', length: 100 }) action: string;
  @Column({ name: 'target_type', type: 'varchar', length: 50, nullable: true }) targetType: string | null;
  @Column({ name: 'target_id', type: 'varchar', length: 200, nullable: true }) targetId: string | null;
  @Column({ type: 'jsonb', default: () => "'{}'" }) details: Record<string, unknown>;
  @Column({ name: 'request_id', type: 'varchar', length: 100, nullable: true }) requestId: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
