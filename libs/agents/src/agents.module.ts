import { Global, Module } from '@nestjs/common';
import { AgentRunnerRegistry } from './agent-runner.registry.js';
import { A2aAgentRunner } from './a2a/a2a-agent.runner.js';
import { ApiAgentRunner } from './api/api-agent.runner.js';
import { ContextAgentRunner } from './context/context-agent.runner.js';
import { FunctionAgentRunner } from './function/function-agent.runner.js';
import { ToolAgentRunner } from './tool/tool-agent.runner.js';

/** The runner registry and the runners of the agent types; each runner registers itself on init (as OrchestrationRunner does). Needs DatabaseModule. */
@Global()
@Module({
  providers: [AgentRunnerRegistry, ContextAgentRunner, ApiAgentRunner, A2aAgentRunner, ToolAgentRunner, FunctionAgentRunner],
  exports: [AgentRunnerRegistry],
})
export class AgentsModule {}
