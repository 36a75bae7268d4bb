import { Injectable } from '@nestjs/common';
import type { AgentType } from '#core';
import { AgentError } from './agent-error.js';
import { BaseAgentRunner } from './base-agent-runner.js';
import { BuiltinToolRunner } from './builtin-tool.runner.js';

/** Agent type -> runner. Built-in tool slugs resolve to the built-in runner before any stored agent. */
@Injectable()
export class AgentRunnerRegistry {
  private readonly runners = new Map<AgentType, BaseAgentRunner>();
  readonly builtins = new BuiltinToolRunner();

  register(runner: BaseAgentRunner): void {
    this.runners.set(runner.type, runner);
  }

  has(type: AgentType): boolean {
    return this.runners.has(type);
  }

  forType(type: AgentType): BaseAgentRunner {
    const runner = this.runners.get(type);
    if (!runner) throw new AgentError('NO_RUNNER', `no runner registered for agent type ${type}`, false);
    return runner;
  }

  /** The runner for a step's agent: a built-in when the slug is one, else the runner of the stored agent's type. */
  resolve(slug: string, storedType: AgentType | undefined): BaseAgentRunner {
    if (this.builtins.handles(slug)) return this.builtins;
    if (!storedType) throw new AgentError('UNKNOWN_AGENT', `agent ${slug} does not exist`, false);
    return this.forType(storedType);
  }
}
