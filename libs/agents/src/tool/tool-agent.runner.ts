import { Injectable, type OnModuleInit } from '@nestjs/common';
import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import type { JsonObject } from '#core';
import { ReadOnlyQueryRepository } from '#persistence';
import { randomUUID } from 'node:crypto';
import { AgentError } from '../agent-error.js';
import { AgentRunnerRegistry } from '../agent-runner.registry.js';
import { BaseAgentRunner, type AgentExecutionContext } from '../base-agent-runner.js';
import { SQL_QUERY_CONFIG_SCHEMA } from './sql-query.config.js';
import { SqlQueryTool } from './sql-query.tool.js';

/** The tools a stored tool agent may name in `config.tool` (the built-ins echo/sleep/... have no row and no config). */
export const TOOLS = ['sql-query'] as const;

/**
 * Runner of stored agents of type `tool`: `config.tool` picks a built-in tool (default `sql-query`), which the
 * config then describes. Built-in agents (echo, sleep, flaky, fail) keep their own runner (BuiltinToolRunner).
 */
@Injectable()
export class ToolAgentRunner extends BaseAgentRunner implements OnModuleInit {
  readonly type = 'tool' as const;
  override readonly configSchema: JsonObject = SQL_QUERY_CONFIG_SCHEMA;
  private readonly sqlQuery: SqlQueryTool;

  constructor(
    private readonly registry: AgentRunnerRegistry,
    queries: ReadOnlyQueryRepository,
  ) {
    super();
    this.sqlQuery = new SqlQueryTool(queries);
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const tool = context.config.tool ?? 'sql-query';
    if (tool !== 'sql-query')
      throw new AgentError(
        'UNKNOWN_TOOL',
        `agent ${context.agentSlug} names unknown tool ${String(tool)} (known: ${TOOLS.join(', ')})`,
        false,
      );
    const output = await this.sqlQuery.run(context.config, messageData(request.message));
    const id = request.taskId ?? randomUUID();
    return completedTask(id, request.contextId ?? id, output);
  }
}
