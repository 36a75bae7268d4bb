/** Swagger descriptions of the A2A routes (the payloads themselves are the A2A protocol's JSON, checked by the SDK). */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';

export const A2A_METHODS_V1 = [
  'SendMessage',
  'SendStreamingMessage',
  'GetTask',
  'ListTasks',
  'CancelTask',
  'SubscribeToTask',
  'CreateTaskPushNotificationConfig',
  'GetTaskPushNotificationConfig',
  'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig',
  'GetExtendedAgentCard',
];
export const A2A_METHODS_V03 = [
  'message/send',
  'message/stream',
  'tasks/get',
  'tasks/cancel',
  'tasks/resubscribe',
  'tasks/pushNotificationConfig/set',
  'tasks/pushNotificationConfig/get',
  'tasks/pushNotificationConfig/list',
  'tasks/pushNotificationConfig/delete',
];

export class JsonRpcRequestDto {
  @ApiProperty({ enum: ['2.0'] }) jsonrpc: '2.0';
  @ApiPropertyOptional({ description: 'Request id (string, integer or null), echoed in the answer', example: 1 }) id?:
    string | number | null;
  @ApiProperty({
    description: 'A2A method: v1.0 names with `A2A-Version: 1.0`, v0.3 names without the header (or with 0.3)',
    enum: [...A2A_METHODS_V1, ...A2A_METHODS_V03],
    example: 'SendMessage',
  })
  method: string;
  @ApiPropertyOptional({
    description: "The method's request object in the protocol JSON form, e.g. SendMessageRequest",
    example: {
      message: { messageId: 'm-1', role: 'ROLE_USER', parts: [{ data: { quarter: '2026-Q3' } }] },
      configuration: { returnImmediately: false },
    },
  })
  params?: Record<string, unknown>;
}

export class JsonRpcErrorDto {
  @ApiProperty({
    description:
      '-32700 parse error, -32600 invalid request, -32601 unknown method, -32602 bad params, -32001 task not found, -32002 not cancelable, -32003 push not supported, -32004 unsupported operation, -32009 version not supported, -32040 role not allowed, -32029 run creation rate limit, -32603 internal',
    example: -32602,
  })
  code: number;
  @ApiProperty({ example: 'Invalid params: message.parts: a message with at least one part' }) message: string;
  @ApiPropertyOptional({ description: 'google.rpc.ErrorInfo details (v1.0)' }) data?: unknown;
}

export class JsonRpcResponseDto {
  @ApiProperty({ enum: ['2.0'] }) jsonrpc: '2.0';
  @ApiProperty({ nullable: true, example: 1 }) id: string | number | null;
  @ApiPropertyOptional({ description: "The method's result (a SendMessageResponse `{ task }`, a Task, a ListTasksResponse, ...)" })
  result?: unknown;
  @ApiPropertyOptional({ type: JsonRpcErrorDto }) error?: JsonRpcErrorDto;
}

export class AgentCardQueryDto {
  @ApiPropertyOptional({
    description: 'Organization slug whose agents to show when no bearer token is sent (default: global)',
    example: 'global',
  })
  @IsOptional()
  @IsString()
  organization?: string;
}

export class OrganizationAgentDto {
  @ApiProperty({ example: 'kpi-tracking' }) slug: string;
  @ApiProperty({ example: 'https://baton.example.com/a2a/kpi-tracking/.well-known/agent-card.json' }) cardUrl: string;
  @ApiProperty({ description: 'The agent card (A2A AgentCard, protocol JSON form)' }) card: Record<string, unknown>;
}

export class OrganizationAgentsDto {
  @ApiProperty({ type: [OrganizationAgentDto] }) agents: OrganizationAgentDto[];
}
