import { Global, Module } from '@nestjs/common';
import { AgentRunnerRegistry } from './agent-runner.registry.js';
import { A2aAgentRunner } from './a2a/a2a-agent.runner.js';
import { ApiAgentRunner } from './api/api-agent.runner.js';
import { ContextAgentRunner } from './context/context-agent.runner.js';

/** The registry and the runners of this library; each runner registers itself on init (as OrchestrationRunner does). */
@Global()
@Module({ providers: [AgentRunnerRegistry, ContextAgentRunner, ApiAgentRunner, A2aAgentRunner], exports: [AgentRunnerRegistry] })
export class AgentsModule {}
