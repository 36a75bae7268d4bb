import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '#config';
import { AgentRunnerRegistry } from './agent-runner.registry.js';
import { BaseAgentRunner } from './base-agent-runner.js';

/** A runner provided by AgentsModule: it gets the app config and registers itself in the registry on init. */
@Injectable()
export abstract class RegisteredAgentRunner extends BaseAgentRunner implements OnModuleInit {
  constructor(
    private readonly registry: AgentRunnerRegistry,
    @Inject(APP_CONFIG) protected readonly appConfig: AppConfig,
  ) {
    super();
  }

  onModuleInit(): void {
    this.registry.register(this);
  }
}
