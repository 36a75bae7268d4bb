import { Module } from '@nestjs/common';
import { BreakersModule } from '../breakers/breakers.module.js';
import { AgentRegistryService } from './agent-registry.service.js';

/** The registry service; needs DatabaseModule and AgentsModule (both global) in the application. */
@Module({ imports: [BreakersModule], providers: [AgentRegistryService], exports: [AgentRegistryService] })
export class AgentRegistryModule {}
