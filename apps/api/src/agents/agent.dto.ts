import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { AGENT_TYPES, type AgentType } from '#core';
import { AGENT_HEALTHS, type AgentHealth } from '#persistence';
import { CAPABILITY_PATTERN } from '#agents';

const CONFIG_DESCRIPTION =
  'Type-specific settings, checked against the JSON Schema of the runner registered for the type (`configSchema`); ' +
  'a type whose runner declares no schema (today: orchestrator, and any type without a runner) accepts any object. ' +
  'Common fields: `maxConcurrency` (integer, steps of this agent running at once across all workers), `budget` ' +
  '({ maxTokens?, maxCostUsd?, onExceeded?: fail|approval }). Secrets are never stored: name the environment variable ' +
  '(`apiKeyEnv: OPENAI_API_KEY`, or `{{ env.NAME }}` inside a header). A literal secret-looking value (a field named ' +
  '*apiKey/*token/*secret/*password/authorization holding a value, or a value shaped like a known credential: sk-..., ' +
  'ghp_..., a JWT, `Bearer <token>`, credentials in a URL) is refused with 400 (code literal_secret).';

/** Request body of POST /agents and PUT /agents/:slug (validated by the registry, all problems with JSON paths). */
export class AgentInputDto {
  @ApiProperty({ example: 'summarizer', pattern: '^[a-z0-9][a-z0-9-]{0,99}$', description: 'Ignored on PUT (the path names the agent)' })
  slug: string;
  @ApiProperty({ example: 'Summarizer', maxLength: 200 }) name: string;
  @ApiPropertyOptional({ nullable: true, type: String, maxLength: 5000 }) description?: string | null;
  @ApiProperty({ enum: AGENT_TYPES, example: 'context' }) type: AgentType;
  @ApiPropertyOptional({
    type: [String],
    example: ['summarize', 'text-analysis'],
    description: `What the agent can do; steps may name a capability instead of an agent (pattern ${CAPABILITY_PATTERN})`,
  })
  capabilities?: string[];
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: CONFIG_DESCRIPTION,
    example: { model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY', maxConcurrency: 4, budget: { maxTokens: 20000 } },
  })
  config?: Record<string, unknown>;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Function agents: the body of `async (input, ctx) => output`' })
  functionCode?: string | null;
  @ApiPropertyOptional({ enum: ['active', 'disabled'], default: 'active' }) status?: 'active' | 'disabled';
}

export class AgentsQueryDto {
  @ApiPropertyOptional({ example: 'summarize', description: 'Only agents with this capability' })
  @IsOptional()
  @Matches(new RegExp(CAPABILITY_PATTERN))
  capability?: string;
  @ApiPropertyOptional({ enum: AGENT_TYPES, description: 'Only agents of this type (built-ins are of type tool)' })
  @IsOptional()
  @IsIn(AGENT_TYPES)
  type?: AgentType;
}

export class HeartbeatDto {
  @ApiPropertyOptional({ enum: AGENT_HEALTHS.filter((h) => h !== 'unknown'), default: 'healthy', description: 'What the agent reports about itself' })
  @IsOptional()
  @IsIn(AGENT_HEALTHS.filter((h) => h !== 'unknown'))
  health?: AgentHealth;
}

export class BreakerDto {
  @ApiProperty({ enum: ['closed', 'open', 'half_open'], description: 'open: steps do not call the agent; half_open: one trial call decides' })
  state: 'closed' | 'open' | 'half_open';
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) changedAt: string | null;
}

export class AgentDto {
  @ApiProperty({ example: 'summarizer' }) slug: string;
  @ApiProperty({ example: 'Summarizer' }) name: string;
  @ApiPropertyOptional({ nullable: true, type: String }) description: string | null;
  @ApiProperty({ enum: AGENT_TYPES }) type: AgentType;
  @ApiProperty({ type: [String], example: ['summarize'] }) capabilities: string[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'As saved (it cannot hold secrets)' }) config: Record<string, unknown>;
  @ApiProperty({ enum: ['active', 'disabled'] }) status: 'active' | 'disabled';
  @ApiProperty({ description: 'A built-in agent (echo, sleep, flaky, fail): always there, not stored, read-only' }) builtin: boolean;
  @ApiProperty({ enum: AGENT_HEALTHS, description: 'As last reported by a heartbeat (unknown: never)' }) health: AgentHealth;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) lastHeartbeatAt: string | null;
  @ApiProperty({ type: BreakerDto }) breaker: BreakerDto;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) createdAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) updatedAt: string | null;
}

export class AgentListDto {
  @ApiProperty({ type: [AgentDto], description: 'Stored agents by slug, then the built-ins that match the filter' }) items: AgentDto[];
}

export class AgentStatsDto {
  @ApiProperty({ example: 50, description: 'Finished steps looked at (the most recent, at most 50)' }) sampleSize: number;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 0.04, description: 'Failed attempts / attempts of those steps' }) errorRate: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 820 }) avgLatencyMs: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 2400 }) p95LatencyMs: number | null;
  @ApiProperty({ example: 1, description: 'Steps of this agent running now' }) running: number;
  @ApiProperty({
    example: 0.96,
    description: '0..1: (1 - errorRate) x reported health (healthy/unknown 1, degraded 0.5, unhealthy 0) x breaker (closed 1, half_open 0.5, open 0); 0 when disabled',
  })
  healthScore: number;
}

export class RecentStepDto {
  @ApiProperty({ format: 'uuid' }) runId: string;
  @ApiProperty({ example: 'summarize' }) stepKey: string;
  @ApiProperty({ example: 'completed' }) status: string;
  @ApiProperty({ example: 1 }) attempt: number;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'TIMEOUT' }) errorCode: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 640 }) latencyMs: number | null;
  @ApiProperty({ type: String, format: 'date-time' }) completedAt: string;
}

export class AgentDetailDto extends AgentDto {
  @ApiPropertyOptional({ nullable: true, type: String }) functionCode: string | null;
  @ApiProperty({ type: AgentStatsDto }) stats: AgentStatsDto;
  @ApiProperty({ type: [RecentStepDto], description: 'The last 10 finished steps, newest first' }) recentSteps: RecentStepDto[];
}
