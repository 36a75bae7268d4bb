import { Global, Module } from '@nestjs/common';
import { AgentRunnerRegistry } from './agent-runner.registry.js';

@Global()
@Module({ providers: [AgentRunnerRegistry], exports: [AgentRunnerRegistry] })
export class AgentsModule {}
