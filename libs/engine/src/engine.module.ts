import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BreakersModule } from '#agents';
import { OrchestrationDefinitionEntity } from '#persistence';
import { ApprovalQueryService } from './approvals/approval-queries.service.js';
import { ApprovalTimer } from './approvals/approval-timer.js';
import { ApprovalService } from './approvals/approval.service.js';
import { CheckpointOpener } from './transitions/checkpoint-opener.js';
import { DefinitionCache } from './compiled-definition.js';
import { EngineEventMetrics } from './observe/engine-event-metrics.js';
import { RunTracing } from './observe/run-tracing.js';
import { TransitionLog } from './observe/transition-log.js';
import { OrchestrationRunner } from './orchestration-runner.js';
import { ActiveDefinitions } from './runs/active-definitions.js';
import { RunControlService } from './runs/run-control.service.js';
import { RunQueryService } from './runs/run-queries.service.js';
import { RunStarter } from './runs/run-starter.service.js';
import { TaskStatusService } from './runs/task-status.service.js';
import { EngineDatabase } from './store/engine-database.js';
import { AgentDirectory } from './worker/agent-directory.js';
import { ClaimThrottle } from './worker/claim-throttle.js';
import { EngineWorker } from './worker/engine-worker.js';
import { ResultApplier } from './worker/result-applier.js';
import { ChildSpawner } from './worker/child-spawner.js';
import { StepClaimer } from './worker/step-claimer.js';
import { GroupPlanner } from './worker/group-planner.js';
import { StepExecutor } from './worker/step-executor.js';

/**
 * The durable engine. Needs DatabaseModule, EventsModule and AgentsModule (all global) in the application. Its hot path
 * runs on its own `pg` pools (EngineDatabase, on DatabaseServer's URL), not on the TypeORM DataSource.
 */
@Module({
  imports: [BreakersModule, TypeOrmModule.forFeature([OrchestrationDefinitionEntity])],
  providers: [
    EngineDatabase,
    DefinitionCache,
    AgentDirectory,
    ChildSpawner,
    GroupPlanner,
    StepClaimer,
    StepExecutor,
    ResultApplier,
    EngineWorker,
    ActiveDefinitions,
    RunStarter,
    RunControlService,
    RunQueryService,
    TaskStatusService,
    OrchestrationRunner,
    CheckpointOpener,
    ApprovalService,
    ApprovalQueryService,
    ApprovalTimer,
    EngineEventMetrics,
    RunTracing,
    TransitionLog,
    ClaimThrottle,
  ],
  exports: [ClaimThrottle, ApprovalQueryService, RunStarter, RunControlService, RunQueryService, TaskStatusService, OrchestrationRunner, EngineWorker, EngineDatabase, DefinitionCache, ActiveDefinitions],
})
export class EngineModule {}
