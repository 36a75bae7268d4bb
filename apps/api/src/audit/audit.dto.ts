import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageMetaDto, PaginationQueryDto } from '../common/pagination.dto.js';

const ACTOR_TYPES = ['user', 'api_key', 'system'] as const;

export class AuditQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: ACTOR_TYPES }) @IsOptional() @IsIn(ACTOR_TYPES) actorType?: (typeof ACTOR_TYPES)[number];
  @ApiPropertyOptional({ format: 'uuid', description: 'User or API key id' }) @IsOptional() @IsUUID() actor?: string;
  @ApiPropertyOptional({ example: 'run.*', description: 'An action (`run.cancel`), or `<kind>.*` for all actions of a kind' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @Matches(/^[a-z_]+(\.[a-z_]+)*(\.\*)?$/, { message: 'action must look like run.cancel or run.*' })
  action?: string;
  @ApiPropertyOptional({ example: 'run', description: 'Kind of the target (run, step, webhook, definition, ...)' }) @IsOptional() @IsString() @MaxLength(50) targetType?: string;
  @ApiPropertyOptional({ description: 'Id of the target' }) @IsOptional() @IsString() @MaxLength(200) target?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'From this time (inclusive)' }) @IsOptional() @IsISO8601() from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Until this time (exclusive)' }) @IsOptional() @IsISO8601() to?: string;
}

export class AuditEntryDto {
  @ApiProperty({ example: '311' }) id: string;
  @ApiProperty({ enum: ACTOR_TYPES }) actorType: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) actorId: string | null;
  @ApiProperty({ example: 'run.cancel' }) action: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'run' }) targetType: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) targetId: string | null;
  @ApiProperty({ example: { reason: 'wrong input' } }) details: Record<string, unknown>;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'X-Request-Id of the request that made the change' }) requestId: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: string;
}

export class AuditPageDto extends PageMetaDto {
  @ApiProperty({ type: [AuditEntryDto] }) items: AuditEntryDto[];
}
