import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { AgentType } from '#core';

export type AgentStatus = 'active' | 'disabled';
export type AgentHealth = 'unknown' | 'healthy' | 'degraded' | 'unhealthy';
export const AGENT_HEALTHS: readonly AgentHealth[] = ['unknown', 'healthy', 'degraded', 'unhealthy'];
export type BreakerState = 'closed' | 'open' | 'half_open';

@Entity('agents')
export class AgentEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ type: 'varchar', length: 100 }) slug: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  @Column({ type: 'varchar', length: 20 }) type: AgentType;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) capabilities: string[];
  @Column({ type: 'jsonb', default: () => "'{}'" }) config: Record<string, unknown>;
  @Column({ name: 'function_code', type: 'text', nullable: true }) functionCode: string | null;
  @Column({ type: 'varchar', length: 20, default: 'active' }) status: AgentStatus;
  @Column({ name: 'last_heartbeat_at', type: 'timestamptz', nullable: true }) lastHeartbeatAt: Date | null;
  @Column({ type: 'varchar', length: 20, default: 'unknown' }) health: AgentHealth;
  @Column({ name: 'breaker_state', type: 'varchar', length: 20, default: 'closed' }) breakerState: BreakerState;
  @Column({ name: 'breaker_changed_at', type: 'timestamptz', nullable: true }) breakerChangedAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}
