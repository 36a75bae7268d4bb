import { Global, Module } from '@nestjs/common';
import { AgentRunnerRegistry } from './agent-runner.registry.js';
import { FunctionAgentRunner } from './function/function-agent.runner.js';
import { ToolAgentRunner } from './tool/tool-agent.runner.js';

/** The runner registry and the runners of the agent types; each runner registers itself on init. Needs DatabaseModule. */
@Global()
@Module({ providers: [AgentRunnerRegistry, ToolAgentRunner, FunctionAgentRunner], exports: [AgentRunnerRegistry] })
export class AgentsModule {}
