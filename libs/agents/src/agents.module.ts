import { Global, Module } from '@nestjs/common';
import { AgentRunnerRegistry } from './agent-runner.registry.js';
import { ToolAgentRunner } from './tool/tool-agent.runner.js';

/** The runner registry and the runners of the agent types; each runner registers itself on init. Needs DatabaseModule. */
@Global()
@Module({ providers: [AgentRunnerRegistry, ToolAgentRunner], exports: [AgentRunnerRegistry] })
export class AgentsModule {}
