import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { DEFINITION_STATUSES, type DefinitionSpec, type DefinitionStatus } from '#core';
import { orderDefinitionSpec, type DefinitionDiff } from '#definitions';
import type { OrchestrationDefinitionEntity } from '#persistence';
import { MAX_INT, PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

/** DESIGN.md section 4's example, used by the Swagger examples. */
export const EXAMPLE_SPEC = {
  slug: 'kpi-tracking',
  name: 'KPI tracking',
  description: 'Fetch a quarter of KPIs, analyze them (approval checkpoint), then summarize.',
  input: { type: 'object', required: ['quarter'], properties: { quarter: { type: 'string' } } },
  defaults: { retry: { maxAttempts: 3, backoff: 'exponential', initialDelayMs: 200, maxDelayMs: 30000, jitter: true }, timeoutMs: 60000 },
  concurrency: 4,
  steps: [
    { key: 'fetch_metrics', agent: 'supabase-agent', input: { query: 'kpi_by_quarter', params: { quarter: '{{ input.quarter }}' } } },
    {
      key: 'analyze',
      agent: 'summarizer',
      dependsOn: ['fetch_metrics'],
      input: { rows: '{{ steps.fetch_metrics.output.rows }}' },
      approval: { prompt: 'Approve the KPI analysis?', timeoutMs: 86400000, onTimeout: 'abort' },
    },
    { key: 'summarize', agent: 'summarizer', dependsOn: ['analyze'], input: { text: '{{ steps.analyze.output.report }}' } },
  ],
};

export const EXAMPLE_YAML = `slug: kpi-tracking
name: KPI tracking
input: { type: object, required: [quarter], properties: { quarter: { type: string } } }
defaults: { retry: { maxAttempts: 3, backoff: exponential, initialDelayMs: 200, maxDelayMs: 30000, jitter: true }, timeoutMs: 60000 }
concurrency: 4
steps:
  - key: fetch_metrics
    agent: supabase-agent
    input: { query: kpi_by_quarter, params: { quarter: "{{ input.quarter }}" } }
  - key: analyze
    agent: summarizer
    dependsOn: [fetch_metrics]
    input: { rows: "{{ steps.fetch_metrics.output.rows }}" }
    approval: { prompt: "Approve the KPI analysis?", timeoutMs: 86400000, onTimeout: abort }
  - key: summarize
    agent: summarizer
    dependsOn: [analyze]
    input: { text: "{{ steps.analyze.output.report }}" }
`;

/** A group step (docs/group-steps.md): two speakers in turns until one says DONE, then an approval. */
export const EXAMPLE_GROUP_SPEC = {
  slug: 'kpi-debate',
  name: 'KPI debate',
  input: { type: 'object', required: ['quarter'], properties: { quarter: { type: 'string' } } },
  steps: [
    {
      key: 'debate',
      type: 'group',
      participants: [{ agent: 'summarizer', name: 'analyst' }, { agent: 'echo', name: 'devil' }],
      strategy: 'round-robin',
      maxTurns: 6,
      maxConsecutiveTurns: 3,
      termination: { stopWord: 'DONE', condition: '{{ group.last.output.agreed }}' },
      input: { text: 'Is {{ input.quarter }} on track?' },
      approval: { prompt: 'Keep the conclusion of the debate?' },
    },
  ],
};

/** A definition whose first step reuses its output (`cache`, docs/agents.md "Step output caching"). */
export const CACHED_EXAMPLE_SPEC = {
  slug: 'daily-rates',
  name: 'Daily rates',
  input: { type: 'object', required: ['day'], properties: { day: { type: 'string' } } },
  steps: [
    { key: 'rates', agent: 'echo', input: { day: '{{ input.day }}' }, cache: { key: 'rates:{{ input.day }}', ttlMs: 3600000 } },
    { key: 'report', agent: 'echo', dependsOn: ['rates'], input: { rates: '{{ steps.rates.output }}' } },
  ],
};

/** OpenAPI request body of the endpoints that take a definition: JSON or YAML, each with its example. */
export const DEFINITION_REQUEST_BODY = {
  required: true,
  description:
    'An orchestration definition (DESIGN.md section 4) as JSON, or as YAML text with `Content-Type: application/yaml`. ' +
    'It is validated as a whole: every problem comes back in `details` with a JSON path. ' +
    'An agent step may reuse an earlier output of its agent: `cache: { key: "<template>", ttlMs }` (per organization and agent; ' +
    'not on approval or orchestration steps, nor with `approval:`); a reused output completes the step with `cached: true`.',
  content: {
    'application/json': {
      schema: { type: 'object' as const, additionalProperties: true, required: ['slug', 'name', 'steps'] },
      examples: {
        definition: { summary: 'KPI tracking (JSON)', value: EXAMPLE_SPEC },
        group: { summary: 'A group step: agents speaking in turns (JSON)', value: EXAMPLE_GROUP_SPEC },
        cached: { summary: 'A step that reuses its output for an hour (cache)', value: CACHED_EXAMPLE_SPEC },
      },
    },
    'application/yaml': {
      schema: { type: 'string' as const, description: 'The definition as YAML (JSON is valid YAML too)' },
      examples: { definition: { summary: 'KPI tracking (YAML)', value: EXAMPLE_YAML } },
    },
  },
};

function booleanQuery({ value }: { value: unknown }): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

export class ListDefinitionsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: DEFINITION_STATUSES }) @IsOptional() @IsIn(DEFINITION_STATUSES) status?: DefinitionStatus;

  @ApiPropertyOptional({ example: 'kpi-tracking', description: 'Exact slug (with latestOnly=false: every version of it)' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  slug?: string;

  @ApiPropertyOptional({ example: 'kpi', description: 'Case-insensitive substring of the slug or the name' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  search?: string;

  @ApiPropertyOptional({ default: true, description: 'Only the newest version of each slug' })
  @IsOptional()
  @Transform(booleanQuery)
  @IsBoolean()
  latestOnly?: boolean;
}

export class VersionQueryDto {
  @ApiPropertyOptional({ minimum: 1, example: 1, description: 'A version number; default: the latest active version' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_INT)
  version?: number;
}

export class DiffQueryDto {
  @ApiProperty({ minimum: 1, example: 1, description: 'Version to compare from' }) @Type(() => Number) @IsInt() @Min(1) @Max(MAX_INT) from: number;
  @ApiProperty({ minimum: 1, example: 2, description: 'Version to compare to' }) @Type(() => Number) @IsInt() @Min(1) @Max(MAX_INT) to: number;
}

export class ProblemDetailDto {
  @ApiProperty({ example: '$.steps[2].dependsOn[0]', description: 'JSON path of the offending value' }) path: string;
  @ApiProperty({ example: 'dependency cycle: a -> b -> c -> a' }) message: string;
  @ApiPropertyOptional({ example: 'dependency_cycle', description: 'Machine-readable kind of problem' }) code?: string;
}

export class ValidationReportDto {
  @ApiProperty({ example: false }) valid: boolean;
  @ApiProperty({
    type: [ProblemDetailDto],
    example: [
      { path: '$.steps[0].agent', message: 'unknown agent "ghost"', code: 'unknown_agent' },
      { path: '$.steps[1].dependsOn[0]', message: 'dependency cycle: a -> b -> a', code: 'dependency_cycle' },
    ],
  })
  problems: ProblemDetailDto[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The definition, when valid', example: EXAMPLE_SPEC })
  spec?: DefinitionSpec;
}

export class DefinitionSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'kpi-tracking' }) slug: string;
  @ApiProperty({ example: 2 }) version: number;
  @ApiProperty({ example: 'KPI tracking' }) name: string;
  @ApiProperty({ type: String, nullable: true, example: 'Fetch, analyze, summarize' }) description: string | null;
  @ApiProperty({ enum: DEFINITION_STATUSES, example: 'active' }) status: DefinitionStatus;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'User who saved this version' }) createdBy: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class DefinitionDto extends DefinitionSummaryDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The definition as saved', example: EXAMPLE_SPEC })
  spec: DefinitionSpec;
}

export class DefinitionPageDto extends PageMetaDto {
  @ApiProperty({ type: [DefinitionSummaryDto] }) items: DefinitionSummaryDto[];
}

/** Versions of one slug, oldest first. */
export class DefinitionVersionPageDto extends PageMetaDto {
  @ApiProperty({ type: [DefinitionSummaryDto] }) items: DefinitionSummaryDto[];
}

export class ArchiveResultDto {
  @ApiProperty({ example: 'kpi-tracking' }) slug: string;
  @ApiProperty({ type: Number, nullable: true, example: null, description: 'The version archived, or null for all' }) version:
    number | null;
  @ApiProperty({ example: 2, description: 'Versions whose status changed to archived' }) archived: number;
}

export class StepChangeDto {
  @ApiProperty({ example: 'analyze' }) key: string;
  @ApiProperty({ type: [String], example: ['agent', 'input'] }) fields: string[];
}

export class DefinitionDiffDto implements DefinitionDiff {
  @ApiProperty({ example: 'kpi-tracking' }) slug: string;
  @ApiProperty({ example: 1 }) from: number;
  @ApiProperty({ example: 2 }) to: number;
  @ApiProperty({ type: [String], example: ['publish'], description: 'Step keys only in `to`' }) added: string[];
  @ApiProperty({ type: [String], example: ['draft'], description: 'Step keys only in `from`' }) removed: string[];
  @ApiProperty({ type: [StepChangeDto] }) changed: StepChangeDto[];
  @ApiProperty({ type: [String], example: ['concurrency', 'name'], description: 'Top-level fields (besides steps) that differ' })
  definitionChanges: string[];
}

export function toDefinitionSummaryDto(d: OrchestrationDefinitionEntity): DefinitionSummaryDto {
  return {
    id: d.id,
    slug: d.slug,
    version: d.version,
    name: d.name,
    description: d.description,
    status: d.status,
    createdBy: d.createdBy,
    createdAt: d.createdAt.toISOString(),
  };
}

export function toDefinitionDto(d: OrchestrationDefinitionEntity): DefinitionDto {
  return { ...toDefinitionSummaryDto(d), spec: orderDefinitionSpec(d.spec) };
}
