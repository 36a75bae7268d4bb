import { Module } from '@nestjs/common';
import { AgentRegistryModule } from '#agents';
import { AgentsController } from './agents.controller.js';

@Module({ imports: [AgentRegistryModule], controllers: [AgentsController] })
export class AgentsApiModule {}
