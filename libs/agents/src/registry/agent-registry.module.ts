import { Module } from '@nestjs/common';
import { AgentRegistryService } from './agent-registry.service.js';

/** The registry service; needs DatabaseModule and AgentsModule (both global) in the application. */
@Module({ providers: [AgentRegistryService], exports: [AgentRegistryService] })
export class AgentRegistryModule {}
