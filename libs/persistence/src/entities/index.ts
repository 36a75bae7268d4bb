import { AgentEntity } from './agent.entity.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { AuditLogEntity } from './audit-log.entity.js';
import { HumanApprovalEntity } from './human-approval.entity.js';
import { OrchestrationDefinitionEntity } from './orchestration-definition.entity.js';
import { OrchestrationEventEntity } from './orchestration-event.entity.js';
import { OrchestrationRunEntity } from './orchestration-run.entity.js';
import { OrchestrationStepEntity } from './orchestration-step.entity.js';
import { OrganizationEntity } from './organization.entity.js';
import { UserEntity } from './user.entity.js';

export {
  AgentEntity,
  ApiKeyEntity,
  AuditLogEntity,
  HumanApprovalEntity,
  OrchestrationDefinitionEntity,
  OrchestrationEventEntity,
  OrchestrationRunEntity,
  OrchestrationStepEntity,
  OrganizationEntity,
  UserEntity,
};
export type { AgentHealth, AgentStatus, BreakerState } from './agent.entity.js';
export { AGENT_HEALTHS } from './agent.entity.js';
export type { ApprovalDecision, ApprovalStatus } from './human-approval.entity.js';
export type { StepType } from './orchestration-step.entity.js';
export type { ActorType } from './audit-log.entity.js';

export const ENTITIES = [
  OrganizationEntity,
  UserEntity,
  ApiKeyEntity,
  AgentEntity,
  OrchestrationDefinitionEntity,
  OrchestrationRunEntity,
  OrchestrationStepEntity,
  HumanApprovalEntity,
  OrchestrationEventEntity,
  AuditLogEntity,
];
