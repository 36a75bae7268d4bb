import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { DefinitionSpec, DefinitionStatus } from '#core';

@Entity('orchestration_definitions')
export class OrchestrationDefinitionEntity {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'organization_id', type: 'uuid' }) organizationId: string;
  @Column({ type: 'varchar', length: 100 }) slug: string;
  @Column({ type: 'integer' }) version: number;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ type: 'text', nullable: true }) description: string | null;
  @Column({ type: 'jsonb' }) spec: DefinitionSpec;
  @Column({ type: 'varchar', length: 20, default: 'active' }) status: DefinitionStatus;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
